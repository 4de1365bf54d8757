"""Monotonic milliseconds that never wrap, on either interpreter.

MicroPython's ticks_ms wraps (every ~12 days on the ESP32); ms() accumulates the
differences, which stays exact as long as it is called at least every few days (the
app's housekeeping calls it every second). State machines take these values as inputs.
"""
import time

try:
    _ticks = time.ticks_ms
    _diff = time.ticks_diff
except AttributeError:
    def _ticks():
        return int(time.monotonic() * 1000)

    def _diff(a, b):
        return a - b

_last = _ticks()
_total = 0


def ms():
    global _last, _total
    t = _ticks()
    _total += _diff(t, _last)
    _last = t
    return _total
