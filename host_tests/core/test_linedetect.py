from meter.linedetect import INCOMPATIBLE, LOCKED, MAX_BAD, P1, SEARCHING, TIC, WINDOW_S, LineDetect


def test_p1_tries_115200_then_9600_7e1_and_locks():
    d = LineDetect(P1, now=0)
    assert d.setting == (115200, 8, None, 1) and d.state == SEARCHING
    for i in range(MAX_BAD - 1):
        assert not d.invalid(i)
    assert d.invalid(3)
    assert d.setting == (9600, 7, 0, 1)
    d.valid(4)
    assert d.state == LOCKED and d.index == 1
    assert not d.tick(50)


def test_silence_switches_after_the_window_and_is_not_incompatible():
    d = LineDetect(TIC, now=0)
    assert not d.tick(WINDOW_S - 1)
    assert d.tick(WINDOW_S) and d.setting == (1200, 7, 0, 1)
    assert d.tick(2 * WINDOW_S) and d.index == 0
    assert d.state == SEARCHING


def test_garbage_under_every_setting_reports_incompatible():
    d = LineDetect(P1, now=0)
    t = 0
    for _ in range(MAX_BAD * len(P1)):
        t += 1
        d.invalid(t)
    assert d.state == INCOMPATIBLE
    d.valid(t + 1)
    assert d.state == LOCKED


def test_starts_with_the_remembered_setting_and_searches_again_when_lost():
    d = LineDetect(TIC, now=0, start=1)
    assert d.setting == (1200, 7, 0, 1)
    d.valid(1)
    assert not d.invalid(30)
    assert d.tick(61) and d.state == SEARCHING and d.index == 0
