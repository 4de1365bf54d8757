"""The meter input task: port bytes -> P1 out and raw stream -> decoder -> latest reading.

Every byte goes out unchanged before it is parsed, valid or not (SPEC section 2). Each
valid telegram becomes one register image, built here once so Modbus only copies.
"""
import asyncio

from meter.decoder import Decoder
from meter.framer import DSMR
from meter.linedetect import P1, TIC, LineDetect
from modbus import registers

_CHUNK = 512


class Meter:
    def __init__(self, port, kind, latest, template, clock, wall, outputs=()):
        """port: the board's meter port (configure, readinto, p1_out). kind: framer.DSMR
        for a P1 port, framer.TIC for a Linky port. wall(): UTC epoch or None while the
        clock is unset, the ts of readings whose meter sends no time. outputs: callables
        getting every chunk."""
        self.port = port
        self.latest = latest
        self.template = template
        self._clock = clock
        self._wall = wall
        self._outputs = outputs
        self.decoder = Decoder(self._reading, self._reject, kinds=kind)
        self.detect = LineDetect(P1 if kind == DSMR else TIC, clock() // 1000)
        self.bytes = 0
        self._want = None  # an Event while someone waits for the next frame's bytes
        self._frame = None

    async def run(self):
        buf = bytearray(_CHUNK)
        mv = memoryview(buf)
        self.port.configure(self.detect.setting)
        while True:
            n = await self.port.readinto(buf)
            if not n:
                continue
            chunk = mv[:n]
            self.port.p1_out(chunk)
            for out in self._outputs:
                out(chunk)
            self.bytes += n
            self.decoder.feed(buf, self._wall(), n)

    def tick(self, now):
        """Housekeeping, about once a second: ends a telegram the line left open (DSMR
        2.2/3.0 without end line) and notices a meter that went silent."""
        self.decoder.tick(now)
        if self.detect.tick(now // 1000):
            self.port.configure(self.detect.setting)

    async def next_frame(self, timeout_ms):
        """The next valid telegram or frame as sent, bytes outside printable ASCII as '?'
        (for people to read), or None after timeout_ms. Copied only when asked for."""
        want = self._want = self._want or asyncio.Event()
        try:
            await asyncio.wait_for(want.wait(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            return None
        return self._frame

    def _reading(self, r, raw, buf, n):
        if self._want is not None:
            self._frame = bytes(c if 32 <= c < 127 or c in (9, 10, 13) else 63
                                for c in memoryview(buf)[:n])
            self._want.set()
            self._want = None
        now = self._clock()
        self.latest.update(r, registers.build_image(r, self.template), now)
        self.detect.valid(now // 1000)

    def _reject(self, kind, reason, buf, n):
        if self.detect.invalid(self._clock() // 1000):
            self.port.configure(self.detect.setting)
