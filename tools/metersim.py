"""Meter simulator: connects to the firmware's meter input (the sim board's meter port)
and replays telegram / frame files the way a meter sends them.

    python tools/metersim.py --port 8090 corpus/dsmr/v5.txt

Intervals follow the protocol (SPEC section 2): DSMR 5 and e-MUCS every 1 s, DSMR 4 and
older every 10 s, TIC back to back at the line's speed (1200 baud historique, 9600
standard). --interval overrides them. Faults: --noise, --corrupt and --cut each apply
to that fraction of telegrams (seeded, so runs repeat). While running, type `stop`,
`start` or `quit` on stdin. --synthetic N replays N generated DSMR 5 telegrams whose
values change every time (total power = the sum of the phases).
"""
import argparse
import os
import random
import re
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "firmware", "lib"))

from meter.lex import crc16_py  # noqa: E402

# A DSMR telegram ends at its end line ('!', 0-4 CRC digits, CRLF), a TIC frame at ETX
# (a TIC checksum character can be '!', so a capture is one or the other).
_DSMR_END = re.compile(rb"![0-9A-Fa-f]{0,4}\r\n")
_TIC_END = re.compile(rb"\x03")


def split(data):
    """Cut a capture into frames, each with the bytes before it (noise is kept)."""
    tic = data.find(b"\x02") >= 0 and (data.find(b"/") < 0 or data.find(b"\x02") < data.find(b"/"))
    frames = []
    pos = 0
    for m in (_TIC_END if tic else _DSMR_END).finditer(data):
        frames.append(data[pos:m.end()])
        pos = m.end()
    if pos < len(data):
        if frames:
            frames[-1] += data[pos:]
        else:
            frames.append(data[pos:])
    return frames


def pacing(frame):
    """(seconds between frames, bytes per second or None) for the protocol of frame."""
    if b"\x02" in frame and frame.endswith(b"\x03"):
        return 0.0, (960 if b"\t" in frame else 120)  # 7E1: 10 bits per byte
    if b"1-3:0.2.8(4" in frame or frame.endswith(b"!\r\n"):  # DSMR 4, or 2.2/3.0 (no CRC)
        return 10.0, None
    return 1.0, None


def synthetic(count, seed=0):
    """count DSMR 5 telegrams with a valid CRC; power changes in every one."""
    rnd = random.Random(seed)
    out = []
    for k in range(count):
        phases = [rnd.randint(0, 9999) for _ in range(3)]
        lines = [
            "/ISK5\\2M550T-1012", "",
            "1-3:0.2.8(50)",
            "0-0:1.0.0(%s)" % time.strftime("%y%m%d%H%M%SW", time.gmtime(1700000000 + k)),
            "1-0:1.8.1(%010.3f*kWh)" % (1000 + k / 1000), "1-0:1.8.2(000500.000*kWh)",
            "1-0:2.8.1(000010.000*kWh)", "1-0:2.8.2(000020.000*kWh)", "0-0:96.14.0(0001)",
            "1-0:1.7.0(%06.3f*kW)" % (sum(phases) / 1000), "1-0:2.7.0(00.000*kW)",
            "1-0:32.7.0(230.%d*V)" % (k % 10), "1-0:52.7.0(231.0*V)", "1-0:72.7.0(229.0*V)",
            "1-0:31.7.0(%03d*A)" % (phases[0] // 230), "1-0:51.7.0(%03d*A)" % (phases[1] // 230),
            "1-0:71.7.0(%03d*A)" % (phases[2] // 230),
        ]
        for i, p in enumerate(phases):
            lines.append("1-0:%d1.7.0(%06.3f*kW)" % (2 * i + 2, p / 1000))
            lines.append("1-0:%d2.7.0(00.000*kW)" % (2 * i + 2))
        body = ("\r\n".join(lines) + "\r\n!").encode()
        out.append(body + b"%04X\r\n" % crc16_py(body, 0, len(body)))
    return out


class MeterSim:
    """Replays frames into the meter port from a thread; tests drive it directly."""

    def __init__(self, port, frames, host="127.0.0.1", interval=None, noise=0.0,
                 corrupt=0.0, cut=0.0, seed=0, count=None, loop=True):
        self.addr = (host, port)
        self.frames = frames
        self.interval = interval
        self.noise, self.corrupt, self.cut = noise, corrupt, cut
        self.count = count
        self.loop = loop
        self.rnd = random.Random(seed)
        self.sent = bytearray()  # every byte written, in order
        self.done = []  # (time.monotonic() after the last byte, frame index) per frame
        self._running = threading.Event()
        self._running.set()
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error = None

    def start(self):
        self._thread.start()
        return self

    def pause(self):
        """The meter stops sending (the connection stays up, like a cable)."""
        self._running.clear()

    def resume(self):
        self._running.set()

    def close(self):
        self._quit.set()
        self._running.set()
        self._thread.join(10)

    def wait(self, frames, timeout=60):
        """Block until `frames` frames in all were sent."""
        end = time.monotonic() + timeout
        while len(self.done) < frames:
            if time.monotonic() > end or not self._thread.is_alive():
                raise TimeoutError("metersim sent %d of %d frames (%s)"
                                   % (len(self.done), frames, self.error))
            time.sleep(0.01)

    def _connect(self):
        end = time.monotonic() + 20
        while True:
            try:
                return socket.create_connection(self.addr, timeout=5)
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def _faulty(self, frame):
        rnd = self.rnd
        if self.corrupt and rnd.random() < self.corrupt:
            i = rnd.randrange(1, len(frame) - 8)
            frame = frame[:i] + bytes([frame[i] ^ 0x10]) + frame[i + 1:]
        if self.cut and rnd.random() < self.cut:
            frame = frame[:rnd.randrange(1, len(frame))]
        if self.noise and rnd.random() < self.noise:
            frame = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64))) + frame
        return frame

    def _run(self):
        try:
            with self._connect() as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                k = 0
                while not self._quit.is_set() and (self.count is None or k < self.count):
                    if not self.loop and k >= len(self.frames):
                        break
                    self._running.wait()
                    if self._quit.is_set():
                        break
                    i = k % len(self.frames)
                    gap, rate = pacing(self.frames[i])
                    if self.interval is not None:
                        gap, rate = self.interval, None
                    self._send(s, self._faulty(self.frames[i]), rate)
                    self.done.append((time.monotonic(), i))
                    k += 1
                    self._quit.wait(gap)
        except OSError as e:
            self.error = e

    def _send(self, s, data, rate):
        if rate is None:
            s.sendall(data)
            self.sent += data
            return
        step = max(1, rate // 50)  # a chunk every 20 ms at line speed
        for j in range(0, len(data), step):
            s.sendall(data[j:j + step])
            self.sent += data[j:j + step]
            time.sleep(step / rate)


def load(paths):
    frames = []
    for p in paths:
        with open(p, "rb") as f:
            frames += split(f.read())
    return frames


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="telegram / TIC frame captures, replayed in a loop")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090, help="the firmware's meter input port")
    ap.add_argument("--interval", type=float, help="seconds between frames (default: protocol)")
    ap.add_argument("--noise", type=float, default=0.0, help="fraction of frames after noise")
    ap.add_argument("--corrupt", type=float, default=0.0, help="fraction with a flipped byte")
    ap.add_argument("--cut", type=float, default=0.0, help="fraction cut short")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, help="stop after this many frames")
    ap.add_argument("--synthetic", type=int, metavar="N", help="N generated DSMR 5 telegrams")
    a = ap.parse_args(argv)
    frames = load(a.files) + (synthetic(a.synthetic, a.seed) if a.synthetic else [])
    if not frames:
        ap.error("give capture files or --synthetic N")
    sim = MeterSim(a.port, frames, a.host, a.interval, a.noise, a.corrupt, a.cut, a.seed,
                   a.count).start()
    print("metersim: %d frames to %s:%d; type stop, start or quit" % (len(frames), a.host, a.port))
    try:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "stop":
                sim.pause()
            elif cmd == "start":
                sim.resume()
            elif cmd == "quit":
                break
        else:
            sim._thread.join()
    except KeyboardInterrupt:
        pass
    sim.close()
    return 1 if sim.error else 0


if __name__ == "__main__":
    sys.exit(main())
