"""Reconnect delays: exponential with jitter and a cap, so a fleet of devices does not
hammer a broker that just came back all at the same instant."""
import random


def _rand(n):
    return random.getrandbits(16) * n >> 16


class Backoff:
    def __init__(self, base_ms=1000, cap_ms=60000, rand=_rand):
        """rand(n): an int in 0..n-1 (tests pass their own)."""
        self._base = base_ms
        self._cap = cap_ms
        self._rand = rand
        self._n = 0

    def next(self):
        """The delay before the next attempt: half the exponential step fixed, half random."""
        step = min(self._cap, self._base << min(self._n, 16))
        self._n += 1
        return step - self._rand(step // 2 + 1)

    def reset(self):
        self._n = 0
