"""The three LEDs of the P1MB / A1MB (SPEC section 1): PWR (yellow) on while powered;
P1 (green) on while the meter's telegrams are valid and blinking while it sends ones that
fail their CRC; 485 (red) on for a moment at each request for this device. Pure: the
time and counters come in, the three states go out to the board's LED pins.
"""
try:
    from micropython import const
except ImportError:
    const = int

BLINK_MS = const(250)  # half a blink period
ERROR_HOLD_MS = const(5000)  # blinking lasts this long after the last refused telegram
FLASH_MS = const(100)  # the 485 LED's time on per request


class BusLeds:
    def __init__(self):
        self._refused = 0
        self._requests = 0
        self._error_at = None
        self._request_at = None

    def update(self, now, fresh, refused, requests):
        """(pwr, p1, rs485) at now (ms), from whether the values are fresh and the
        counts of refused telegrams and of requests so far."""
        if refused != self._refused:
            self._refused = refused
            self._error_at = now
        if requests != self._requests:
            self._requests = requests
            self._request_at = now
        if self._error_at is not None and now - self._error_at < ERROR_HOLD_MS:
            p1 = (now - self._error_at) // BLINK_MS % 2 == 0
        else:
            p1 = fresh
        rs485 = self._request_at is not None and now - self._request_at < FLASH_MS
        return True, p1, rs485
