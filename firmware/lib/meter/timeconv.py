"""Meter timestamps to UTC epoch seconds.

Plain integer arithmetic instead of time.mktime: ports disagree on the epoch and on local
time, and the meter's own zone letter (or the EU summer-time rule) says the offset.
"""


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_MDAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _digits2(buf, i):
    a = buf[i] - 48
    b = buf[i + 1] - 48
    if 0 <= a <= 9 and 0 <= b <= 9:
        return a * 10 + b
    return -1


def _local_epoch(buf, i):
    """YYMMDDhhmmss at buf[i:] as seconds since the epoch on the meter's wall clock.
    None before 2010: meters whose clock was never set send 2000 (or zeros)."""
    yy = _digits2(buf, i)
    mo = _digits2(buf, i + 2)
    d = _digits2(buf, i + 4)
    h = _digits2(buf, i + 6)
    mi = _digits2(buf, i + 8)
    s = _digits2(buf, i + 10)
    if yy < 10 or not 1 <= mo <= 12 or not 1 <= d <= _MDAYS[mo - 1] or not 0 <= h <= 23:
        return None
    if not 0 <= mi <= 59 or not 0 <= s <= 59:
        return None
    return days_from_civil(2000 + yy, mo, d) * 86400 + h * 3600 + mi * 60 + s


def _last_sunday_utc(year, month):
    """01:00 UTC on the last Sunday of month (31-day months only: March, October)."""
    day = days_from_civil(year, month, 31)
    return (day - (day + 4) % 7) * 86400 + 3600


def eu_offset(local_epoch):
    """UTC offset (s) of Central European time at a wall-clock instant, for meters that
    send no zone letter (DSMR 2.2/3.0)."""
    year = 1970 + local_epoch // 31556952
    summer = _last_sunday_utc(year, 3) <= local_epoch - 3600 < _last_sunday_utc(year, 10)
    return 7200 if summer else 3600


def dsmr_ts(buf, start, end):
    """DSMR YYMMDDhhmmssX (X = S summer UTC+2, W winter UTC+1, in either case; absent on
    DSMR 2.2/3.0)."""
    n = end - start
    if n not in (12, 13):
        return None
    t = _local_epoch(buf, start)
    if t is None:
        return None
    if n == 12:
        return t - eu_offset(t)
    x = buf[start + 12] | 0x20
    if x == 115:  # s
        return t - 7200
    if x == 119:  # w
        return t - 3600
    return None


def tic_ts(buf, start, end):
    """TIC horodate SYYMMDDhhmmss (S = E summer / H winter; lower case = degraded clock)."""
    if end - start != 13:
        return None
    t = _local_epoch(buf, start + 1)
    if t is None:
        return None
    s = buf[start] | 0x20
    if s == 101:  # e
        return t - 7200
    if s == 104:  # h
        return t - 3600
    return None
