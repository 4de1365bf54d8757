"""The RGB LED (docs/product.md, LED and button): which pattern the device state calls
for, and the colour a pattern shows at a given moment. Pure, time an input: the tests
check every pattern and its timing without waiting; the board's LED only shows colours.
Every table here is a constant (frozen into flash with the module)."""

INIT_MS = 30000  # after the start, "initializing" until address and meter data, at most this long
PATTERNS = (
    # (name, ms per colour (0: steady), colours...)
    ("booting", 0, "red"),
    ("initializing", 333, "red", "green", "blue"),
    ("normal", 0, "green"),
    ("ap", 500, "blue", "off"),
    ("no-meter", 500, "red", "green"),
    ("no-ip", 500, "green", "orange"),
    ("no-meter-no-ip", 500, "red", "orange"),
    ("ap-no-meter", 500, "blue", "red"),
    # while the button is held: what releasing it now would do (device/button.py)
    ("soft-reset", 0, "white"),
    ("access-point", 125, "blue", "off"),
    ("refused", 125, "red", "off"),  # the access point, asked for outside factory state
    ("factory-reset", 125, "magenta", "off"),
)
RGB = (("off", 0, 0, 0), ("red", 255, 0, 0), ("green", 0, 255, 0), ("blue", 0, 0, 255),
       ("orange", 255, 80, 0), ("white", 255, 255, 255), ("magenta", 255, 0, 255))


def initializing(was, ip, meter, since_start_ms):
    """Still initializing: since the start, address and meter data have not yet been
    there together, for at most INIT_MS. Once over, it stays over."""
    return was and since_start_ms < INIT_MS and not (ip and meter)


def pattern(booting, init, ap, ip, meter):
    """The state's pattern, by priority: booting, the access point, initializing, then
    address and meter data."""
    if booting:
        return "booting"
    if ap:
        return "ap" if meter else "ap-no-meter"
    if init:
        return "initializing"
    if meter:
        return "normal" if ip else "no-ip"
    return "no-meter" if ip else "no-meter-no-ip"


def colour(name, t_ms):
    """The colour pattern name shows at t_ms (alternations at 1 Hz: 500 ms each)."""
    for p in PATTERNS:
        if p[0] == name:
            return p[2] if not p[1] else p[2 + (t_ms // p[1]) % (len(p) - 2)]
    raise ValueError(name)


def rgb(colour_name):
    for c in RGB:
        if c[0] == colour_name:
            return c[1:]
    raise ValueError(colour_name)
