"""The button (docs/product.md, LED and button): debounced, it acts on release, by how
long it was held. A button held at boot is ignored until released (a stuck or pressed
button must not wipe the device at power-on). Pure, time an input."""

DEBOUNCE_MS = 50  # a level counts once it has held this long
SOFT_MS = 2000  # released before: soft reset
AP_MS = 5000  # from here: the access point (factory state only)
FACTORY_MS = 10000  # from here: factory reset
CANCEL_MS = 30000  # from here: nothing (a stuck button)


def action(held_ms):
    """What a press held this long does on release, or None."""
    if held_ms < SOFT_MS:
        return "soft-reset"
    if held_ms < AP_MS:
        return None
    if held_ms < FACTORY_MS:
        return "access-point"
    return "factory-reset" if held_ms < CANCEL_MS else None


class Button:
    def __init__(self, pressed, now):
        """pressed: the level at boot; a press then is ignored until released."""
        self._raw = self._level = pressed
        self._raw_at = now
        self._armed = not pressed
        self._down = None  # when the counted press began

    def sample(self, pressed, now):
        """Feed the level read now; returns the action of a release, or None."""
        if pressed != self._raw:
            self._raw = pressed
            self._raw_at = now
            return None
        if pressed == self._level or now - self._raw_at < DEBOUNCE_MS:
            return None
        self._level = pressed
        if pressed:
            if self._armed:
                self._down = self._raw_at
            return None
        down, self._down = self._down, None
        self._armed = True
        return None if down is None else action(self._raw_at - down)

    def pending(self, now):
        """While held: what releasing it now would do (the LED shows it); else None."""
        return None if self._down is None else action(now - self._down)

    def held(self):
        return self._down is not None
