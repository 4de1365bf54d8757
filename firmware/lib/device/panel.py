"""The front panel: the button and the RGB LED together (docs/network.md). Every 20 ms
the board's button is sampled into the debouncer (device/button.py) and the LED shows
the device state's pattern (device/led.py), or while the button is held what releasing
it would do. A 5 s press outside factory state is refused: the LED says so for a while.
Pure apart from the board's button and LED objects, time an input."""
from device import led
from device.button import Button

SAMPLE_MS = 20
REFUSED_MS = 3000  # the "no" after a refused access-point press


class Panel:
    def __init__(self, button, light, now):
        """button: the board's, with pressed() and poll(debouncer, now) (None: no
        button); light: the board's LED with show(r, g, b) (None: status only)."""
        self._io = button
        self._light = light
        self.button = Button(button.pressed() if button else False, now)
        self._start = now
        self._init = True
        self._refused_until = None
        self.pattern = "booting"
        self.showing = "booting"
        self.colour = None
        self._show(now)

    def step(self, now, ap, ip, meter, factory):
        """One sample; returns the action of a release ("soft-reset", "access-point",
        "factory-reset") or None. The access point needs factory state."""
        act = self._io.poll(self.button, now) if self._io else None
        if act == "access-point" and not factory:
            act = None
            self._refused_until = now + REFUSED_MS
        self._init = led.initializing(self._init, ip, meter, now - self._start)
        self.pattern = led.pattern(False, self._init, ap, ip, meter)
        pending = self.button.pending(now)
        if pending == "access-point" and not factory:
            pending = "refused"
        if pending is None and self._refused_until is not None:
            if now < self._refused_until:
                pending = "refused"
            else:
                self._refused_until = None
        self.showing = pending or self.pattern
        self._show(now)
        return act

    def _show(self, now):
        c = led.colour(self.showing, now)
        if c != self.colour:
            self.colour = c
            if self._light is not None:
                self._light.show(*led.rgb(c))

    def status(self):
        return {"pattern": self.pattern, "colour": self.colour,
                "showing": self.showing, "button": self.button.held()}
