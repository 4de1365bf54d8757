"""Which serial line setting to listen with, decided from what the framer and parsers
report. Meters are not configured: the gateway tries the settings of its port in turn
until checksummed frames arrive, and remembers the one that worked.

A pure state machine: events and the time (seconds, any monotonic origin) are inputs;
the caller reconfigures the UART when `setting` changes.
"""
# (baud, data bits, parity: None or 0 = even, stop bits)
P1 = ((115200, 8, None, 1), (9600, 7, 0, 1))  # DSMR 4/5, e-MUCS, A1; then DSMR 2.2/3.0
TIC = ((9600, 7, 0, 1), (1200, 7, 0, 1))  # standard, then historique

SEARCHING = "searching"
LOCKED = "locked"
INCOMPATIBLE = "incompatible"

# A DSMR 4 meter sends every 10 s: listen long enough to see two telegrams.
WINDOW_S = 25
# Bad frames in a row that condemn a setting before its window ends.
MAX_BAD = 3
# A locked setting that delivers nothing valid for this long is searched again.
LOST_S = 60


class LineDetect:
    def __init__(self, settings, now, start=0):
        """start: index of the last setting that worked (persisted by the caller)."""
        self.settings = settings
        self.index = start if 0 <= start < len(settings) else 0
        self.state = SEARCHING
        self._since = now
        self._last_good = now
        self._bad = 0
        self._tried = 0  # settings tried since the last valid frame
        self._seen = False  # anything at all arrived during this round

    @property
    def setting(self):
        return self.settings[self.index]

    def valid(self, now):
        """A frame with a good checksum arrived."""
        self.state = LOCKED
        self._last_good = now
        self._bad = 0
        self._tried = 0
        self._seen = False

    def invalid(self, now):
        """A frame failed its checksum, or bytes arrived that frame nothing.
        Returns True when the caller must switch to the new `setting`."""
        self._seen = True
        if self.state == LOCKED:
            return self.tick(now)
        self._bad += 1
        if self._bad >= MAX_BAD:
            return self._next(now)
        return False

    def tick(self, now):
        """Call periodically. Returns True when the caller must switch setting."""
        if self.state == LOCKED:
            if now - self._last_good >= LOST_S:
                self.state = SEARCHING
                return self._next(now)
            return False
        if now - self._since >= WINDOW_S:
            return self._next(now)
        return False

    def _next(self, now):
        self.index = (self.index + 1) % len(self.settings)
        self._since = now
        self._bad = 0
        self._tried += 1
        if self._tried >= len(self.settings):
            # A whole round without a valid frame: garbage means a meter we cannot
            # read; silence means no meter data (the LED tells the two apart).
            self.state = INCOMPATIBLE if self._seen else SEARCHING
            self._tried = 0
            self._seen = False
        return True
