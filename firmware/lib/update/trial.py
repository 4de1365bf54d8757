"""The verdict on a trial boot: a new image runs on trial until the services that ran
before the update are back and have stayed up for a while; then it is marked valid.
Past the deadline it fails, the device resets and the bootloader, finding the image
still pending, returns to the previous slot. An image that crashes or hangs never
reaches a verdict: the reset (the watchdog's, for a hang) does the same.

Time and the services' state are inputs, so tests drive it without waiting."""
try:
    from micropython import const
except ImportError:
    const = int

WAIT = const(0)
VALID = const(1)
FAIL = const(2)

# The field's defaults: two minutes for the network and MQTT to come back (DHCP, a
# broker's reconnect delay), and ten seconds up without a break, so an image that
# connects and then falls over is not kept. The sim shortens both.
DEADLINE_MS = const(120000)
SETTLE_MS = const(10000)


class Trial:
    def __init__(self, needs, start_ms, deadline_ms=DEADLINE_MS, settle_ms=SETTLE_MS):
        """needs: the names of the services that ran before the update (written down
        by the update before it rebooted); start_ms: when the trial boot began."""
        self.needs = needs
        self.missing = needs  # the services not up at the last step
        self._start = start_ms
        self._deadline = deadline_ms
        self._settle = settle_ms
        self._all_up = None  # since when every needed service has been up

    def step(self, now, up):
        """up(name): whether that service is up now. WAIT, VALID or FAIL."""
        self.missing = tuple(n for n in self.needs if not up(n))
        if self.missing:
            self._all_up = None
        elif self._all_up is None:
            self._all_up = now
        if self._all_up is not None and now - self._all_up >= self._settle:
            return VALID
        if self.missing and now - self._start >= self._deadline:
            return FAIL  # (all up but still settling at the deadline: it may finish)
        return WAIT
