"""Modbus benchmarks of issue 3, every figure measured in this run.

- Throughput: one client reading 10 registers in a loop, request/response, for a few
  seconds: the firmware on the unix port vs a pymodbus async server on CPython serving
  the same registers (goal >= 1.5x the requests/s); p50 / p99 latency of both.
- Telegram to register: metersim's last byte of a telegram -> the new total power seen
  by a client polling as fast as it can (goal p99 <= 20 ms).
Both with the firmware on the 64-bit unix port (x64 .mpy files, the sim's default) and on
the 32-bit build with the firmware frozen in (tools/sim.py --frozen32, the device gauge).
The firmware's heap: benchmarks/heap.py.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "host_tests", "core")]

from latency import telegram_latencies  # noqa: E402
from simfw import Sim, free_ports, metersim, wait_until  # noqa: E402
from support import corpus  # noqa: E402

SECONDS = 3
READ = 0x8016, 10
# The firmware's builds (tools/sim.py options): the sim's default, x64 .mpy files on the
# 64-bit unix port, and the device gauge.
BUILDS = (("firmware on the unix port", ()), ("firmware, 32-bit frozen", ("--frozen32",)))


def request(tid):
    return struct.pack(">HHHBBHH", tid & 0xFFFF, 0, 6, 1, 3, *READ)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def loop_client(port, seconds=SECONDS):
    """(requests per second, p50 ms, p99 ms) of one request/response client."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    tid = 0
    t_end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        if t > t_end:
            break
        tid += 1
        s.sendall(request(tid))
        reply = recv_exact(s, 9 + 2 * READ[1])
        lat.append(time.perf_counter() - t)
        assert reply[7] == 3, reply
    elapsed = time.perf_counter() - t0
    s.close()
    lat.sort()
    return len(lat) / elapsed, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3


def registers(port, addr, count):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, addr, count))
        reply = recv_exact(s, 9 + 2 * count)
    return list(struct.unpack(">%dH" % count, reply[9:]))


def firmware_throughput(tmp, args=()):
    """The firmware's loop_client figures and the registers it served (for the peer)."""
    with Sim(tmp, status_every=0, args=args) as sim:
        sim.meter(metersim.split(corpus("dsmr/v5.txt")), interval=1.0)
        wait_until(lambda: registers(sim.modbus_port, *READ)[:2] != [0, 0])
        image = {0x8000: registers(sim.modbus_port, 0x8000, 0x30),
                 0x8100: registers(sim.modbus_port, 0x8100, 8)}
        return loop_client(sim.modbus_port), image


def pymodbus_throughput(image):
    port = free_ports(1)[0]
    peer = subprocess.Popen([sys.executable, os.path.join(ROOT, "benchmarks", "pymodbus_peer.py"),
                             str(port), json.dumps(image)])
    try:
        wait_until(lambda: _connectable(port), timeout=20)
        assert registers(port, *READ) == image[0x8000][0x16:0x16 + READ[1]]
        return loop_client(port)
    finally:
        peer.terminate()
        peer.wait()


def _connectable(port):
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        return True
    except OSError:
        return False


def telegram_latency(tmp, args=(), count=300):
    frames = metersim.synthetic(count, seed=3)
    with Sim(tmp, status_every=0, args=args) as sim:
        s = socket.create_connection(("127.0.0.1", sim.modbus_port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        seen = {}  # total power -> first time seen
        stop = threading.Event()

        def poll():
            tid = 0
            while not stop.is_set():
                tid += 1
                s.sendall(struct.pack(">HHHBBHH", tid & 0xFFFF, 0, 6, 1, 3, 0x8016, 2))
                r = recv_exact(s, 13)
                t = time.monotonic()
                v = struct.unpack(">f", r[11:13] + r[9:11])[0]
                seen.setdefault(v, t)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        m = sim.meter(frames, interval=0.05, count=count, loop=False)
        m.wait(count, timeout=120)
        time.sleep(0.2)
        stop.set()
        poller.join()
        s.close()
    return telegram_latencies(m.done, frames, seen)


def met(ok):
    return "met" if ok else "NOT MET"


def main():
    tmp = tempfile.mkdtemp(prefix="sc-bench-")
    ours = [firmware_throughput(os.path.join(tmp, "tp%d" % i), args)
            for i, (_, args) in enumerate(BUILDS)]
    theirs = pymodbus_throughput(ours[0][1])
    print("Modbus TCP, one client reading %d registers in a loop, %d s each:" % (READ[1], SECONDS))
    for (name, _), (figures, _) in zip(BUILDS, ours):
        print("  %-26s %7.0f req/s, p50 %.2f ms, p99 %.2f ms" % (name + ":", *figures))
    print("  %-26s %7.0f req/s, p50 %.2f ms, p99 %.2f ms" % ("pymodbus async on CPython:",
                                                            *theirs))
    ratios = [figures[0] / theirs[0] for figures, _ in ours]
    print("  throughput ratio: %.2fx (goal >= 1.5x: %s); 32-bit frozen: %.2fx (%s)"
          % (ratios[0], met(ratios[0] >= 1.5), ratios[1], met(ratios[1] >= 1.5)))
    print("Telegram to register (goal p99 <= 20 ms):")
    for i, (name, args) in enumerate(BUILDS):
        n, p50, p99 = telegram_latency(os.path.join(tmp, "lat%d" % i), args)
        print("  %-26s %d telegrams, p50 %.2f ms, p99 %.2f ms (%s)"
              % (name + ":", n, p50, p99, met(p99 <= 20)))


if __name__ == "__main__":
    main()
