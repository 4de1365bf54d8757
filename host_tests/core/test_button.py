"""The button: debounced, acting on release by how long it was held, time an input."""
from device.button import AP_MS, CANCEL_MS, DEBOUNCE_MS, FACTORY_MS, SOFT_MS, Button, action


def test_what_a_press_held_this_long_does_on_release():
    for held, want in ((0, "soft-reset"), (SOFT_MS - 1, "soft-reset"), (SOFT_MS, None),
                       (AP_MS - 1, None), (AP_MS, "access-point"),
                       (FACTORY_MS - 1, "access-point"), (FACTORY_MS, "factory-reset"),
                       (CANCEL_MS - 1, "factory-reset"), (CANCEL_MS, None),
                       (10 * CANCEL_MS, None)):
        assert action(held) == want, held


def _press(b, t, held, step=20):
    """Samples every step ms: pressed from t for held ms; returns (action, release time)."""
    acts = []
    end = t + held
    while t < end:
        acts.append(b.sample(True, t))
        t += step
    for _ in range(2 * DEBOUNCE_MS // step + 1):
        acts.append(b.sample(False, t))
        t += step
    got = [a for a in acts if a is not None]
    assert len(got) <= 1, got
    return (got[0] if got else None), t


def test_press_timelines_give_their_action_once():
    for held, want in ((300, "soft-reset"), (3000, None), (6000, "access-point"),
                       (12000, "factory-reset"), (31000, None)):
        b = Button(False, 0)
        got, _ = _press(b, 1000, held)
        assert got == want, (held, got)


def test_bounces_shorter_than_the_debounce_are_ignored():
    b = Button(False, 0)
    t = 0
    for _ in range(20):  # contact chatter: 10 ms on, 10 ms off
        assert b.sample(True, t) is None
        assert b.sample(False, t + 10) is None
        t += 20
    assert not b.held()
    assert b.sample(False, t + 500) is None


def test_a_button_held_at_boot_does_nothing_until_released():
    b = Button(True, 0)
    t = 0
    while t < 40000:  # held past every threshold: no factory reset
        assert b.sample(True, t) is None
        assert b.pending(t) is None
        t += 20
    got, t = _press(b, t, 0)
    assert got is None
    got, _ = _press(b, t + 1000, 500)  # the next press counts
    assert got == "soft-reset"


def test_while_held_pending_says_what_releasing_now_would_do():
    b = Button(False, 0)
    b.sample(True, 1000)
    b.sample(True, 1000 + DEBOUNCE_MS)
    for at, want in ((1000 + DEBOUNCE_MS, "soft-reset"), (1000 + SOFT_MS, None),
                     (1000 + AP_MS, "access-point"), (1000 + FACTORY_MS, "factory-reset"),
                     (1000 + CANCEL_MS, None)):
        assert b.pending(at) == want, at
    assert b.held()
