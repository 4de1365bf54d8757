"""The latest valid reading and its register image: what every consumer serves.

Staleness is latched: once the last telegram is older than the limit the values stay
stale until the next telegram, so a charger falls back to its safe current.
"""
import asyncio


class Latest:
    def __init__(self, stale_after_ms, now):
        """now: clock.ms() at boot; it counts as the last telegram until one arrives."""
        self.reading = None
        self.image = ()  # no telegram yet: every register reads zero
        self.count = 0
        self.at = now
        self.limit_ms = stale_after_ms
        self._stale = False
        self._event = asyncio.Event()

    def update(self, reading, image, now):
        self.reading = reading
        self.image = image
        self.count += 1
        self.at = now
        self._stale = False
        self.tick()  # waiters already woken; the next wait blocks again

    def fresh(self, now):
        if not self._stale and now - self.at >= self.limit_ms:
            self._stale = True
        return not self._stale

    def tick(self):
        """Wakes the waiters with no new reading: the firmware's housekeeping, every
        second, so that a waiter looks after its timers without a timeout of its own (a
        wait_for is a task and two coroutines in the heap while it waits)."""
        self._event.set()
        self._event.clear()

    async def wait(self):
        """Returns after the next valid telegram or tick()."""
        await self._event.wait()
