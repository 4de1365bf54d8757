"""One byte stream served read-only to several TCP readers: the raw meter stream (port
8088) and, on the sim, P1 out.

publish() never waits: it writes each chunk straight to every reader's socket, which
almost always takes it whole, so a reader that keeps up holds no buffer of ours (2 KB
less heap per reader than a buffer each). What a socket does not take waits in the
stream's own queue, and what comes while that is being sent, in a buffer of the reader's
taken then and let go once it has caught up; a task per reader sends them. A reader whose
backlog would pass the buffer's size, or whose socket takes nothing for a few seconds, is
too slow and is dropped, so it can never slow the meter loop; so is one the heap has no
buffer for at that moment. Readers beyond max_readers are refused.
"""
import asyncio

from net.wait import unsent

# A reader that cannot take a chunk within this long is dropped, even before its backlog
# overflows (its socket is full: it has stopped reading).
_SEND_TIMEOUT_S = 5


class _Reader:
    def __init__(self, writer):
        self.writer = writer
        self.buf = None  # taken while the reader is behind
        self.n = 0
        self.sending = False  # its task is sending a backlog: new chunks go into buf
        self.closed = False
        self.ready = asyncio.Event()


class Fanout:
    def __init__(self, max_readers=4, size=2048):
        self.max_readers = max_readers
        self._size = size
        self._readers = []
        self.dropped = 0  # readers dropped for being slow
        self.refused = 0

    @property
    def readers(self):
        return len(self._readers)

    async def start(self, port, host="0.0.0.0"):
        self.server = await asyncio.start_server(self._serve, host, port)

    def publish(self, data):
        for r in self._readers:
            if not r.closed:
                self._give(r, data)

    def _give(self, r, data):
        n = len(data)
        try:
            if not r.sending:
                r.writer.write(data)  # what the socket does not take is queued there
                left = unsent(r.writer)
                if left > self._size:
                    self._drop(r)
                elif left:
                    r.sending = True
                    r.ready.set()
                return
            if r.buf is None:
                r.buf = bytearray(self._size)
            if r.n + n > len(r.buf):
                self._drop(r)
                return
            r.buf[r.n:r.n + n] = data
            r.n += n
        except OSError:  # a reset reader: not a slow one
            r.closed = True
            r.ready.set()
        except MemoryError:  # no heap for its backlog: it has to go, as a slow one
            self._drop(r)

    def _drop(self, r):
        r.closed = True
        self.dropped += 1
        r.ready.set()

    async def _serve(self, reader, writer):
        if len(self._readers) >= self.max_readers:
            self.refused += 1
            writer.close()
            await writer.wait_closed()
            return
        r = _Reader(writer)
        self._readers.append(r)
        watch = asyncio.create_task(self._watch(reader, r))
        try:
            while not r.closed:
                await r.ready.wait()
                r.ready.clear()
                while r.sending and not r.closed:
                    await asyncio.wait_for(writer.drain(), _SEND_TIMEOUT_S)
                    if r.n:  # what came meanwhile
                        writer.write(memoryview(r.buf)[:r.n])
                        r.n = 0
                    elif not unsent(writer):
                        r.sending = False
                        r.buf = None  # caught up
        except asyncio.TimeoutError:
            if not r.closed:
                self.dropped += 1
        except (OSError, MemoryError):  # that reader only
            pass
        finally:
            r.closed = True
            self._readers.remove(r)
            watch.cancel()
            writer.close()
            await writer.wait_closed()

    async def _watch(self, reader, r):
        """The stream is read-only: anything sent is discarded; end of stream closes."""
        try:
            while await reader.read(64):
                pass
        except OSError:
            pass
        r.closed = True
        r.ready.set()
