"""One byte stream served read-only to several TCP readers: the raw meter stream (port
8088) and, on the sim, P1 out.

publish() never waits: it copies the chunk into each reader's bounded buffer and a task
per reader sends it. A reader whose buffer overflows, or whose socket takes nothing for
a few seconds, is too slow and is dropped, so it can never slow the meter loop. Readers
beyond max_readers are refused. A reader's buffer is allocated when it connects (nobody
reads the raw stream most of the time); without the heap for it, that connection closes.
Its task sends whatever the buffer holds as soon as it runs, straight from the buffer
(write() copies only what the socket does not take at once).
"""
import asyncio

# A reader that cannot take a chunk within this long is dropped, even before its buffer
# overflows (its socket is full: it has stopped reading).
_SEND_TIMEOUT_S = 5


class _Reader:
    def __init__(self, size):
        self.buf = bytearray(size)
        self.n = 0
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
        n = len(data)
        for r in self._readers:
            if r.closed:
                continue
            if r.n + n > len(r.buf):
                r.closed = True
                self.dropped += 1
            else:
                r.buf[r.n:r.n + n] = data
                r.n += n
            r.ready.set()

    async def _serve(self, reader, writer):
        if len(self._readers) >= self.max_readers:
            self.refused += 1
            writer.close()
            await writer.wait_closed()
            return
        r = watch = None
        try:
            reader_state = _Reader(self._size)
            self._readers.append(reader_state)
            r = reader_state
            watch = asyncio.create_task(self._watch(reader, r))
            while True:
                await r.ready.wait()
                r.ready.clear()
                if r.closed:
                    break
                writer.write(memoryview(r.buf)[:r.n])
                r.n = 0
                await asyncio.wait_for(writer.drain(), _SEND_TIMEOUT_S)
        except asyncio.TimeoutError:
            if not r.closed:
                self.dropped += 1
        except (OSError, MemoryError):  # that reader only
            pass
        finally:
            if r is not None:
                r.closed = True
                self._readers.remove(r)
            if watch is not None:
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
