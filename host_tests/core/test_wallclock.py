"""The RTC is set in the port's own epoch: the ESP32 counts from 2000, the unix port and
CPython from 1970. Without the conversion the ESP32's RTC lands 30 years ahead and
mbedtls refuses every certificate as expired."""
import time

from device.wallclock import UNIX_TO_2000, rtc_datetime

T = 1700000000  # 2023-11-14 22:13:20 UTC, a Tuesday


def _gmtime_1970(secs):
    return time.gmtime(secs)


def _gmtime_2000(secs):
    """The ESP32's gmtime: seconds since 2000-01-01 (emulated on a 1970 port)."""
    return time.gmtime(secs + UNIX_TO_2000)


def test_both_epochs_give_the_same_calendar_date():
    want = (2023, 11, 14, 2, 22, 13, 20, 0)  # weekday 1-7, Monday = 1
    assert rtc_datetime(T, _gmtime_1970, 1970) == want
    assert rtc_datetime(T, _gmtime_2000, 2000) == want


def test_unconverted_time_on_a_2000_port_would_be_30_years_ahead():
    assert _gmtime_2000(T)[0] == 2053  # what the RTC held before the fix


def test_this_interpreter_reports_its_epoch():
    assert time.gmtime(0)[0] == 1970
    assert rtc_datetime(0, time.gmtime, time.gmtime(0)[0])[:3] == (1970, 1, 1)
