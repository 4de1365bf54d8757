"""POST /api/v1/firmware: the image in the request's body, streamed into the update
service (update/service.py) a flash sector at a time, never whole in the heap. The answer
says whether the image verified; the device reboots into it after the answer.

A refused image is answered only once its body has been read (and dropped): a client
still sending when the connection closes gets a reset, not the answer. A client that
stops sending (one that announced the length only, waiting for the answer) gets it after
DROP_S of silence."""
import asyncio

from web import errors

READ_S = 30  # the longest silence within an upload
DROP_S = 1  # within a refused body's rest
_DROP = 512
_CONFLICT = ("busy", "trial")
_DROP_MAX = 0x200000  # of a refused body: more than a slot holds


class _Body:
    """The body's bytes read with the head first, then the stream's (straight into the
    room given on MicroPython, whose streams have readinto); got counts them."""

    def __init__(self, reader, rest):
        self._reader = reader
        self._pending = memoryview(rest)
        self.got = 0

    async def read(self, room, wait_s=READ_S):
        n = await self._read(room, wait_s)
        self.got += n
        return n

    async def _read(self, room, wait_s):
        p = self._pending
        if p:
            n = min(len(p), len(room))
            room[:n] = p[:n]
            self._pending = p[n:]
            return n
        if hasattr(self._reader, "readinto"):
            while True:
                n = await asyncio.wait_for(self._reader.readinto(room), wait_s)
                if n is not None:  # None: woken with nothing to read after all
                    return n
        data = await asyncio.wait_for(self._reader.read(len(room)), wait_s)
        room[:len(data)] = data
        return len(data)


async def _drop(read, left):
    """Reads and drops what the client still sends of a refused body."""
    buf = memoryview(bytearray(_DROP))
    try:
        while left > 0:
            n = await read(buf[:min(_DROP, left)], DROP_S)
            if not n:
                return
            left -= n
    except (OSError, asyncio.TimeoutError):
        pass


def refusal(e):
    """The answer to an update refused with ValueError e ("check: why"): 400, or 409 for
    an update already running or a firmware still on trial."""
    msg = str(e)
    check = msg.split(":", 1)[0].replace(" ", "-")  # security-version
    return errors.response(409 if check in _CONFLICT else 400, "update:" + check, msg,
                           field=check)


async def receive(req, updates, needs):
    """(the new version, None) once the image verified and is the boot slot, or (None,
    the refusal: 400, 409 for an update already running or a firmware still on trial,
    naming its check; 400 update:connection when the upload broke off)."""
    rest, length = req.g.upload
    del req.g.upload  # consumed here: web/http drops nothing more
    body = _Body(req.sock[0], rest)
    try:
        return await updates.receive(body.read, length, needs), None
    except ValueError as e:
        await _drop(body.read, min(length, _DROP_MAX) - body.got)
        return None, refusal(e)
    except (OSError, asyncio.TimeoutError):  # the client went or stalled
        return None, errors.response(400, "update:connection", "the upload broke off at %d "
                                     "of %d bytes" % (body.got, length), field="connection")
