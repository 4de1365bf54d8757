"""UTC wall time for TLS and MQTT. Valid once SNTP (or the host clock on the sim) or, when
that is unreachable, the meter's own clock has set it; MQTT does not connect before.

Time runs on from the last setting with the monotonic clock.ms(), so it is a state
machine with time as input: set(epoch, at_ms, source), now(ms). Every epoch here is Unix
time (1970); rtc_datetime() converts for a port that counts from 2000, as the ESP32 does.
"""

UNIX_TO_2000 = 946684800  # seconds from 1970-01-01 to 2000-01-01


def rtc_datetime(epoch, gmtime, epoch_year):
    """The (year, month, day, weekday 1-7, hour, minute, second, subseconds) tuple that
    machine.RTC().datetime() takes for the Unix time epoch. gmtime is the port's own,
    which counts from epoch_year (time.gmtime(0)[0]: 2000 on the ESP32, whose RTC is also
    what mbedtls checks certificate dates against)."""
    tm = gmtime(epoch - UNIX_TO_2000 if epoch_year == 2000 else epoch)
    return (tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0)


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
