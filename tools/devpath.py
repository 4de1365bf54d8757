"""make install's check before it copies anything: can the board's MicroPython image hold
the .mpy development path? (README, "Flashing a real board".)

    python tools/devpath.py --port /dev/ttyUSB0 --board wt32-eth01

Asks the board over mpremote (the firmware's watchdog stretched first, as make install
does) for its image's name and how far its Python heap can reach: gc.mem_alloc() +
gc.mem_free(), the heap's own size plus the largest free block of the system heap, which
MicroPython 1.28's ESP32 port grows the heap into. A Smart Connect image cannot hold the
path: its frozen firmware starts, not files copied beside it, and its heap is held at
96 KB (docs/memory.md, "Heap growth"). Elsewhere the check refuses a heap that cannot
reach what the .mpy firmware needs, and warns (and copies) where that need would leave
less than the system heap's budget: a firmware that runs out says so at boot and stops at
the REPL (hw/esp32.py). Exit status 1: refused.
"""
import argparse
import os
import subprocess
import sys

# Run on the board: the stretch first (the firmware's 10 s watchdog survives mpremote's
# Ctrl-C), then the figures after a collection.
PROBE = ("import gc, machine, sys; machine.WDT(timeout=3600000); gc.collect(); "
         "print('devpath', gc.mem_alloc() + gc.mem_free(), sys.implementation._machine)")
# The smallest Python heap that holds the .mpy firmware with 4 Modbus clients, MQTT off, on
# the 32-bit gauge (README, benchmarks; 139 KB with MQTT over TLS): below it, it cannot run.
PYTHON_KB = 124
# What the system heap needs beside it: TLS, lwIP, Ethernet, the meter UART and a margin
# (docs/memory.md, "The heap budget").
SYSTEM_KB = 100
FLASH = "make firmware flash BOARD=%s PORT=%s"


def verdict(machine, reach, board, port):
    """(copy?, what to print) for an image named `machine` whose Python heap can reach
    `reach` bytes."""
    flash = FLASH % (board, port)
    if machine.startswith("Smart Connect"):
        return False, ("make install: %s runs a Smart Connect image (%s): its frozen firmware "
                       "starts, not the files make install would copy. Update it with `%s`; "
                       "for the .mpy development path, flash a stock MicroPython 1.28 image "
                       "first." % (port, machine, flash))
    kb = reach // 1024
    need = "the .mpy development path needs about %d KB of Python heap" % PYTHON_KB
    if kb < PYTHON_KB:
        return False, ("make install: the Python heap of %s (%s) can reach %d KB; %s (its "
                       "bytecode lives there). Flash the Smart Connect image instead, which "
                       "keeps it in flash: `%s`." % (port, machine, kb, need, flash))
    if kb < PYTHON_KB + SYSTEM_KB:
        return True, ("make install: warning: the Python heap of %s (%s) can reach %d KB; %s "
                      "and the system heap about %d KB beside it (Wi-Fi or Ethernet, lwIP, "
                      "TLS), so it may run out: the firmware then says so at boot and stops at "
                      "the REPL. `%s` fits." % (port, machine, kb, need, SYSTEM_KB, flash))
    return True, "make install: %s (%s): the Python heap can reach %d KB, enough" % (
        port, machine, kb)


def probe(port):
    """(image name, Python heap reach in bytes) of the board on `port`."""
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    out = subprocess.run([mpremote, "connect", port, "exec", PROBE], capture_output=True,
                         text=True, timeout=60)
    for line in out.stdout.splitlines():
        if line.startswith("devpath "):
            _, reach, machine = line.split(" ", 2)
            return machine, int(reach)
    sys.exit("make install: no answer from the board on %s: %s" % (port, out.stderr.strip()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True)
    ap.add_argument("--board", required=True)
    a = ap.parse_args(argv)
    ok, text = verdict(*probe(a.port), a.board, a.port)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
