"""Firmware heap, every figure measured in this run: 1000 telegrams 5 ms apart with 4 Modbus
clients polling as fast as they can, MQTT off and on (mutual TLS to a real mosquitto with
a CA made for the run).

- the device gauge: the 32-bit unix build with the firmware frozen in (tools/sim.py
  --frozen32), as the device image holds it: bytecode in flash, not in the heap;
- the development path: the same 32-bit build loading .mpy files (--mpy32), as `make
  install` leaves the firmware on a stock image: its bytecode lives in the heap;
- the sim's default, the 64-bit unix port loading x64 .mpy files, MQTT off.

For each: the peak live heap (the firmware's gc.mem_alloc() after its collect every second)
with a generous heap, and the smallest `tools/sim.py --heap` that holds the run, bisected in
1 KB steps between that peak (a heap cannot hold less) and the generous heap. Holding
means the firmware stays up without an error, parses every telegram, answers every
request and, with MQTT, stays connected with no failure.
"""
import os
import sys
import tempfile
import threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "host_tests", "core")]

from broker import CA, Broker  # noqa: E402
from modbus import registers  # noqa: E402  (benchmarks/modbus.py)
from simfw import Sim, metersim, wait_until  # noqa: E402

TELEGRAMS = 1000
# (build, tools/sim.py options, MQTT on, a heap that holds with room to spare, in KB)
CASES = (("32-bit frozen (device gauge)", ("--frozen32",), False, 128),
         ("32-bit frozen (device gauge)", ("--frozen32",), True, 128),
         ("32-bit .mpy (make install)", ("--mpy32",), False, 192),
         ("32-bit .mpy (make install)", ("--mpy32",), True, 192),
         ("64-bit .mpy (unix port)", (), False, 256))


def heap_run(flash, heap, args=(), mqtt=None, telegrams=TELEGRAMS):
    """Runs telegrams with 4 polling clients; returns the last status, or None if it failed.
    mqtt: (CA, Broker) to publish to."""
    config = None
    if mqtt:
        mqtt[0].provision(flash, "BENCHHEAP")
        config = {"MQTT": {"Enabled": True, "Broker": mqtt[1].url(), "Site": "bench"}}
    try:
        with Sim(flash, config, heap=heap, args=args) as sim:
            if not any(line.startswith("sim up:") for line in sim.lines):
                return None  # it did not start: no need to wait for the meter to give up
            if mqtt and not sim.status_when(lambda s: s["mqtt"]["connected"]
                                            or s["mqtt"]["failures"], timeout=30)["mqtt"][
                                                "connected"]:
                return None
            m = sim.meter(metersim.synthetic(telegrams), interval=0.005, count=telegrams,
                          loop=False)
            stop = threading.Event()
            errors = []

            def poll():
                try:
                    while not stop.is_set():
                        registers(sim.modbus_port, 0x8016, 14)
                except OSError as e:
                    errors.append(e)

            clients = [threading.Thread(target=poll, daemon=True) for _ in range(4)]
            for c in clients:
                c.start()
            m.wait(telegrams, timeout=120)
            wait_until(lambda: sim.status()["meter"]["valid"] == telegrams, timeout=10)
            stop.set()
            for c in clients:
                c.join()
            st = sim.status()
            published = not mqtt or (st["mqtt"]["connected"] and st["mqtt"]["failures"] == 0
                                     and st["mqtt"]["sent"] > 0)
            return st if sim.alive() and not errors and published else None
    except (AssertionError, TimeoutError, RuntimeError, OSError):
        return None


def smallest_heap(holds, lo, hi):
    """Bisect, in KB, the smallest heap for which holds(kb) (lo is known to fail, hi to
    hold)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


def measure(tmp, args, mqtt, generous):
    """(peak live bytes, smallest heap in KB, the status at the generous heap), or None
    when even the generous heap does not hold."""
    name = "-".join([a.strip("-") for a in args] + (["mqtt"] if mqtt else []) or ["x64"])
    st = heap_run(os.path.join(tmp, "%s-%d" % (name, generous)), "%dk" % generous, args, mqtt)
    if st is None:
        return None
    peak = st["heap"]["peak_live"]
    kb = smallest_heap(lambda k: heap_run(os.path.join(tmp, "%s-%d" % (name, k)), "%dk" % k,
                                          args, mqtt) is not None, peak // 1024, generous)
    return peak, kb, st


def main():
    tmp = tempfile.mkdtemp(prefix="sc-bench-heap-")
    ca = CA(tmp)
    broker = Broker(os.path.join(tmp, "broker"), ca)
    try:
        print("Firmware heap, %d telegrams 5 ms apart with 4 Modbus clients polling:"
              % TELEGRAMS)
        print("  %-30s %-11s %-21s %s" % ("build", "MQTT", "peak live (in heap)",
                                          "smallest --heap"))
        rows = {}
        for build, args, mqtt, generous in CASES:
            r = measure(tmp, args, (ca, broker) if mqtt else None, generous)
            mode = "mutual TLS" if mqtt else "off"
            if r is None:
                print("  %-30s %-11s did not hold in %d KB" % (build, mode, generous))
                continue
            peak, kb, st = r
            rows[args, mqtt] = peak, kb
            extra = "  (%d messages sent, %d readings skipped)" % (
                st["mqtt"]["sent"], st["mqtt"]["skipped"]) if mqtt else ""
            print("  %-30s %-11s %5.1f KB (%3d KB)      %3d KB%s"
                  % (build, mode, peak / 1024, generous, kb, extra))
        for mqtt in (False, True):
            frozen, mpy = rows.get((("--frozen32",), mqtt)), rows.get((("--mpy32",), mqtt))
            if frozen and mpy:
                print("  32-bit, MQTT %s: .mpy files need %d KB more heap than frozen (%.2fx), "
                      "peak live +%.1f KB" % ("on" if mqtt else "off", mpy[1] - frozen[1],
                                              mpy[1] / frozen[1], (mpy[0] - frozen[0]) / 1024))
        for args, build in ((("--frozen32",), "32-bit frozen"), (("--mpy32",), "32-bit .mpy")):
            off, on = rows.get((args, False)), rows.get((args, True))
            if off and on:
                print("  %s: MQTT over TLS adds %d KB to the smallest heap, %.1f KB to peak live"
                      % (build, on[1] - off[1], (on[0] - off[0]) / 1024))
        mpy32, mpy64 = rows.get((("--mpy32",), False)), rows.get(((), False))
        if mpy32 and mpy64:
            print("  .mpy, MQTT off: the 64-bit port needs %.2fx the 32-bit heap (word size)"
                  % (mpy64[1] / mpy32[1]))
    finally:
        broker.close()


if __name__ == "__main__":
    main()
