"""One web answer in the making at a time, across the servers and the event streams. A
request holds a few kilobytes from its parsing to its last byte written (its head, the
Request, the status it reports: 2.7 KB on the device gauge), and two or three of them at
once were the soak's heap peaks (issue 19). Answers take milliseconds; one whose client
reads slowly delays the others at most WAIT_S, after which they go ahead anyway."""
import asyncio

WAIT_S = 1


class Turn:
    def __init__(self):
        self._lock = asyncio.Lock()

    async def take(self):
        """True once this task's turn came (hand it back with give(True)), False when it
        went ahead after WAIT_S without."""
        lock = self._lock
        if not lock.locked():  # the usual case: no task of wait_for's made
            await lock.acquire()
            return True
        try:
            await asyncio.wait_for(lock.acquire(), WAIT_S)
        except asyncio.TimeoutError:
            return False
        return True

    def give(self, taken):
        if taken:
            self._lock.release()
