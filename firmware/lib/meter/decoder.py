"""The meter input pipeline: byte chunks -> framer -> DSMR or TIC parser -> reading.

Shared by the firmware's meter task and tools/decode.py. Time is an input (feed's now,
tick's ms), so the same code runs under test without a clock.
"""
from meter.framer import DSMR, SIZE, TIC, Framer

INCOMPLETE = "incomplete at end of input"


class Decoder:
    def __init__(self, on_reading, on_reject=None, raw=False, size=SIZE, kinds=DSMR | TIC):
        """on_reading(reading, raw, buf, n) for each valid frame, on_reject(kind, reason,
        buf, n) for each refused one; buf[0:n] is the frame, valid during the call.
        kinds: DSMR for a P1 port, TIC for a TIC port (see Framer). Only their parsers
        are imported and made: a P1 device holds no TIC code in its heap, nor the other
        way round."""
        self.framer = Framer(self._frame, size, kinds)
        self._dsmr = self._tic = None
        if kinds & DSMR:
            from meter import dsmr

            self._dsmr = dsmr.DsmrParser()
        if kinds & TIC:
            from meter import tic

            self._tic = tic.TicParser()
        self._on_reading = on_reading
        self._on_reject = on_reject
        self._raw = raw
        self._now = 0
        self._ending = False
        self.valid = 0
        self.rejected = 0
        self.no_heap = 0  # telegrams lost to a momentarily short heap (see _frame)
        self.last_error = None

    def feed(self, data, now, n=-1):
        """Consume data[0:n] (all of it when n < 0), meter bytes received at now (UTC
        epoch seconds)."""
        self._now = now
        self.framer.feed(data, n)

    def tick(self, now_ms):
        """About once a second (ms, any monotonic origin): a DSMR 2.2/3.0 telegram without
        end line is decoded once the line has been silent (Framer.tick)."""
        self.framer.tick(now_ms)

    def end(self):
        """The input is over (the end of a capture): a telegram without end line whose
        last line is complete is decoded; any other frame in progress, or one that is
        refused, goes to on_reject as INCOMPLETE."""
        self._ending = True
        try:
            self.framer.end()
        finally:
            self._ending = False

    def parse(self, kind, buf, n, raw=None):
        """Parse one frame; raises ValueError with the reason when it is refused."""
        parser = self._dsmr if kind == DSMR else self._tic
        return parser.parse(buf, n, self._now, raw)

    def _frame(self, kind, buf, n):
        # A heap short for a moment (a burst of connections) loses this telegram, counted;
        # the next one comes within seconds. Raised on, it would restart the device.
        try:
            raw = {} if self._raw else None
            try:
                r = self.parse(kind, buf, n, raw)
            except ValueError as e:
                self.rejected += 1
                self.last_error = INCOMPLETE if self._ending else str(e)
                if self._on_reject:
                    self._on_reject(kind, self.last_error, buf, n)
                return
            self.valid += 1
            self._on_reading(r, raw, buf, n)
        except MemoryError:
            self.no_heap += 1
