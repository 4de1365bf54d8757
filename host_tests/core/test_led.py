"""The LED: every pattern of SPEC section 9, its priority and timing, and the front panel
(button preview, refused access point), time an input."""
from device import led
from device.button import AP_MS, DEBOUNCE_MS, FACTORY_MS
from device.panel import REFUSED_MS, Panel

NAMES = ("booting", "initializing", "normal", "ap", "no-meter", "no-ip", "no-meter-no-ip",
         "ap-no-meter")


def test_each_state_has_its_pattern_by_priority():
    # (booting, initializing, ap, ip, meter) -> pattern
    for state, want in (
            ((True, True, True, True, True), "booting"),
            ((False, True, True, False, False), "ap-no-meter"),
            ((False, False, True, True, True), "ap"),
            ((False, True, False, False, True), "initializing"),
            ((False, False, False, True, True), "normal"),
            ((False, False, False, True, False), "no-meter"),
            ((False, False, False, False, True), "no-ip"),
            ((False, False, False, False, False), "no-meter-no-ip"),
            ((False, False, True, False, True), "ap"),
            ((False, False, True, False, False), "ap-no-meter")):
        assert led.pattern(*state) == want, state


def test_initializing_ends_with_address_and_meter_or_after_the_limit_and_stays_over():
    for was, ip, meter, t, want in ((True, False, False, 0, True),
                                    (True, True, False, 1000, True),
                                    (True, True, True, 1000, False),
                                    (True, False, False, led.INIT_MS, False),
                                    (False, False, False, 0, False)):
        assert led.initializing(was, ip, meter, t) == want


def test_colours_steady_and_alternating_at_1_hz():
    table = {"booting": ("red", "red"), "normal": ("green", "green"),
             "ap": ("blue", "off"), "no-meter": ("red", "green"),
             "no-ip": ("green", "orange"), "no-meter-no-ip": ("red", "orange"),
             "ap-no-meter": ("blue", "red")}
    for name, (first, second) in table.items():
        for t0 in (0, 1000, 60000):
            assert led.colour(name, t0) == first, (name, t0)
            assert led.colour(name, t0 + 499) == first, name
            assert led.colour(name, t0 + 500) == second, name
            assert led.colour(name, t0 + 999) == second, name
    assert [led.colour("initializing", t) for t in (0, 333, 666, 999)] == \
        ["red", "green", "blue", "red"]
    for name in NAMES:
        assert len(led.rgb(led.colour(name, 0))) == 3


class _Finger:
    """The board's button: pressed() and poll(); the test sets the level."""

    def __init__(self, pressed=False):
        self.level = pressed

    def pressed(self):
        return self.level

    def poll(self, debouncer, now):
        return debouncer.sample(self.level, now)


class _Light:
    def __init__(self):
        self.shown = []

    def show(self, r, g, b):
        self.shown.append((r, g, b))


def _hold(panel, finger, t, ms, factory, step=20):
    """Press for ms, sampling; returns (actions, what the LED showed while held, in
    order, t)."""
    finger.level = True
    seen = []
    acts = []
    end = t + ms
    while t < end:
        acts.append(panel.step(t, False, True, True, factory))
        if not seen or seen[-1] != panel.showing:
            seen.append(panel.showing)
        t += step
    finger.level = False
    for _ in range(5):
        acts.append(panel.step(t, False, True, True, factory))
        t += step
    return [a for a in acts if a], seen, t


def test_panel_shows_the_state_and_the_led_gets_its_colours():
    light = _Light()
    p = Panel(_Finger(), light, 0)
    assert (p.pattern, light.shown) == ("booting", [(255, 0, 0)])
    p.step(100, False, False, False, True)
    assert p.pattern == "initializing"
    p.step(200, False, True, True, True)
    assert (p.pattern, p.colour, light.shown[-1]) == ("normal", "green", (0, 255, 0))
    p.step(300, False, False, True, True)
    assert p.status()["pattern"] == "no-ip"
    n = len(light.shown)
    p.step(320, False, False, True, True)  # same colour: the LED is not written again
    assert len(light.shown) == n


def test_holding_the_button_previews_its_action():
    f = _Finger()
    p = Panel(f, None, 0)
    p.step(0, False, True, True, True)
    acts, seen, t = _hold(p, f, 100, FACTORY_MS + 1000, True)
    assert acts == ["factory-reset"]
    # the first 50 ms are the debounce; 2-5 s would do nothing
    assert seen == ["normal", "soft-reset", "normal", "access-point", "factory-reset"], seen
    assert p.showing == "normal"


def test_access_point_outside_factory_state_is_refused_and_the_led_says_no():
    f = _Finger()
    p = Panel(f, None, 0)
    p.step(0, False, True, True, False)
    acts, seen, t = _hold(p, f, 100, AP_MS + 500, False)
    assert acts == [] and seen[-1] == "refused"
    assert p.showing == "refused" and p.pattern == "normal"
    p.step(t + REFUSED_MS, False, True, True, False)
    assert p.showing == "normal"
    acts, seen, t = _hold(p, f, t + REFUSED_MS + 100, AP_MS + 500, True)
    assert acts == ["access-point"]


def test_a_button_held_at_boot_is_ignored_until_released():
    f = _Finger(True)
    p = Panel(f, None, 0)
    t = 0
    while t < FACTORY_MS + 2000:
        assert p.step(t, False, True, True, True) is None
        t += 20
    f.level = False
    for _ in range(5):
        assert p.step(t, False, True, True, True) is None
        t += DEBOUNCE_MS
    acts, _, _ = _hold(p, f, t, 300, True)
    assert acts == ["soft-reset"]
