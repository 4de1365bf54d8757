"""UTC wall time for TLS and MQTT. Valid once SNTP (or the host clock on the sim) or, when
that is unreachable, the meter's own clock has set it; MQTT does not connect before.

Time runs on from the last setting with the monotonic clock.ms(), so it is a state
machine with time as input: set(epoch, at_ms, source), now(ms).
"""


class WallClock:
    def __init__(self):
        self.source = None  # None, "ntp" or "meter"
        self._epoch = 0
        self._at = 0

    def set(self, epoch, at_ms, source):
        """The meter's clock never overrides a network time (meters drift and may be
        set wrong); a network time always overrides the meter's."""
        if source == "meter" and self.source == "ntp":
            return
        self._epoch = int(epoch)
        self._at = at_ms
        self.source = source

    def valid(self):
        return self.source is not None

    def now(self, ms):
        return self._epoch + (ms - self._at) // 1000 if self.source else None
