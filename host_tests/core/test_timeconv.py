from meter.timeconv import days_from_civil, dsmr_ts, eu_offset, tic_ts


def test_civil_days():
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(2000, 3, 1) == 11017
    assert days_from_civil(2024, 2, 29) == 19782


def test_dsmr_zone_letters():
    assert dsmr_ts(b"170102192002W", 0, 13) == 1483381202
    assert dsmr_ts(b"240606201844S", 0, 13) == 1717697924
    assert dsmr_ts(b"170102192002X", 0, 13) is None
    assert dsmr_ts(b"632525252525W", 0, 13) is None
    assert dsmr_ts(b"170230000000W", 0, 13) is None


def test_dsmr_without_letter_uses_eu_summer_time():
    assert dsmr_ts(b"161107190000", 0, 12) == 1478541600  # winter, UTC+1
    assert dsmr_ts(b"160707190000", 0, 12) == 1467910800  # summer, UTC+2
    # 2024 summer time: 31 March 01:00 UTC to 27 October 01:00 UTC.
    assert eu_offset(days_from_civil(2024, 3, 31) * 86400 + 3600 + 3599) == 3600
    assert eu_offset(days_from_civil(2024, 3, 31) * 86400 + 3 * 3600) == 7200
    assert eu_offset(days_from_civil(2024, 10, 27) * 86400 + 3600 + 3600) == 3600


def test_tic_horodate():
    assert tic_ts(b"E210414082625", 0, 13) == 1618381585
    assert tic_ts(b"H240210121355", 0, 13) == 1707563635
    assert tic_ts(b"h240210121355", 0, 13) == 1707563635
    assert tic_ts(b" 240210121355", 0, 13) is None
