"""Modbus RTU benchmark of issue 14, every figure measured in this run.

The RS485 slave on the sim (tools/sim.py --rs485, one end of a socat pty pair) and, as
the peer, pymodbus's own RTU serial server on the same kind of pair: one master reading
10 registers in a loop for a few seconds at 9600 and at 115200 baud. Printed: requests/s,
p50 / p99 request -> reply turnaround, the ratio to the peer, and the wire time the same
exchange takes on a real bus (a pty moves bytes at once: on the sim the turnaround is the
slave's own time). Goal: at least the peer's requests/s.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import serial

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "host_tests", "core")]

from test_sim_rtu import crc  # noqa: E402

from simfw import Sim, metersim, wait_until  # noqa: E402
from support import corpus  # noqa: E402

SECONDS = 3
UNIT = 16
READ = 0x8016, 10
BAUDS = (9600, 115200)
BUILDS = (("firmware on the unix port", ()), ("firmware, 32-bit frozen", ("--frozen32",)))


REQUEST = crc(struct.pack(">BBHH", UNIT, 3, *READ))
REPLY = 5 + 2 * READ[1]


def pty_pair(tmp, name):
    os.makedirs(tmp, exist_ok=True)
    a, b = os.path.join(tmp, name + "-slave"), os.path.join(tmp, name + "-master")
    proc = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b])
    wait_until(lambda: os.path.exists(a) and os.path.exists(b), timeout=10)
    return proc, a, b


def ask(port, request=REQUEST, n=REPLY):
    port.write(request)
    return port.read(n)


def loop_master(path, baud, seconds=SECONDS):
    """(requests per second, p50 ms, p99 ms, the registers) of one master."""
    with serial.Serial(path, baud, timeout=2) as port:
        wait_until(lambda: len(ask(port)) == REPLY, timeout=30)
        lat = []
        t0 = time.perf_counter()
        t_end = t0 + seconds
        while True:
            t = time.perf_counter()
            if t > t_end:
                break
            reply = ask(port)
            lat.append(time.perf_counter() - t)
            assert reply[:3] == bytes((UNIT, 3, 2 * READ[1])), reply
        elapsed = time.perf_counter() - t0
        regs = list(struct.unpack(">%dH" % READ[1], reply[3:-2]))
    lat.sort()
    return len(lat) / elapsed, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, regs


def firmware(tmp, baud, args):
    sock, slave, master = pty_pair(tmp, "fw")
    try:
        with Sim(os.path.join(tmp, "flash"), {"RS485": {"Baud": baud}}, status_every=0,
                 args=("--rs485", slave) + args) as sim:
            sim.meter(metersim.split(corpus("dsmr/v5.txt")), interval=1.0)
            with serial.Serial(master, baud, timeout=2) as port:
                wait_until(lambda: ask(port)[3:7] not in (b"", bytes(4)), timeout=30)
            return loop_master(master, baud)
    finally:
        sock.terminate()
        sock.wait()


def peer(tmp, baud, regs):
    sock, slave, master = pty_pair(tmp, "peer")
    srv = subprocess.Popen([sys.executable, __file__, "--peer", slave, str(baud),
                            json.dumps(regs)], stderr=subprocess.DEVNULL)  # v4 notices
    try:
        got = loop_master(master, baud)
        assert got[3] == regs
        return got
    finally:
        srv.terminate()
        srv.wait()
        sock.terminate()
        sock.wait()


def serve_peer(path, baud, regs):
    """pymodbus's RTU serial server holding the registers the firmware served."""
    import asyncio

    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.framer import FramerType
    from pymodbus.server import StartAsyncSerialServer

    values = [0] * 0x10000
    values[READ[0]:READ[0] + len(regs)] = regs
    block = ModbusSequentialDataBlock(1, values)  # pymodbus counts from 1 for address 0
    ctx = ModbusServerContext(devices={UNIT: ModbusDeviceContext(hr=block, ir=block)},
                              single=False)
    asyncio.run(StartAsyncSerialServer(context=ctx, framer=FramerType.RTU, port=path,
                                       baudrate=baud))


def wire_ms(baud, bits=11):
    """Request, the silence that ends it (3.5 characters, 1.75 ms above 19200 baud), and
    the reply on a real bus, 8E1 (11 bits a character)."""
    silence = 1750 if baud > 19200 else 3.5 * bits * 1e6 / baud
    return ((len(REQUEST) + REPLY) * bits * 1e6 / baud + silence) / 1e3


def main():
    tmp = tempfile.mkdtemp(prefix="sc-bench-rtu-")
    print("Modbus RTU on a pty pair, one master reading %d registers in a loop, %d s each:"
          % (READ[1], SECONDS))
    for baud in BAUDS:
        ours = [firmware(os.path.join(tmp, "fw%d-%d" % (baud, i)), baud, args)
                for i, (_, args) in enumerate(BUILDS)]
        theirs = peer(os.path.join(tmp, "peer%d" % baud), baud, ours[0][3])
        print("  %d baud (on a real bus the exchange takes %.1f ms on the wire, 8E1):"
              % (baud, wire_ms(baud)))
        for (name, _), figures in zip(BUILDS, ours):
            ratio = figures[0] / theirs[0]
            print("    %-30s %6.0f req/s, turnaround p50 %.2f ms, p99 %.2f ms: %.2fx the "
                  "peer's requests/s (goal >= 1x: %s), p99 %.0f %% of the wire time"
                  % (name + ":", *figures[:3], ratio, "met" if ratio >= 1 else "NOT MET",
                     100 * figures[2] / wire_ms(baud)))
        print("    %-30s %6.0f req/s, turnaround p50 %.2f ms, p99 %.2f ms"
              % ("pymodbus serial server:", *theirs[:3]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peer"]:
        serve_peer(sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]))
    else:
        main()
