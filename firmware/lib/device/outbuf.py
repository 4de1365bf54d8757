"""A buffer taken once, at start, that large texts (a reading's JSON, the status, every
web answer, MQTT packets) are written into before they go out. Built as fresh strings,
each needs contiguous blocks of the heap (the text, its bytes, the framed message: three
copies), which a fragmented heap often lacks even with 10 KB free. Written piece by piece
here, the pieces are small and the buffer stays.

The firmware has one (app.App.out), which every task shares by one rule: clear it, fill
it and hand view() to a stream's write() with no await between (write() copies what the
socket does not take at once); after any await, clear it again before writing. With a sink (a
stream's writer), a full buffer is written to the sink and reused, so a text of any size
goes out in pieces of the buffer's size; without one the buffer grows. json.dump writes
into it too (it is a stream on both interpreters)."""
import io


class Out(io.IOBase):
    def __init__(self, size):
        self.buf = bytearray(size)
        self.n = 0
        self.sink = None

    def clear(self, sink=None):
        self.n = 0
        self.sink = sink
        return self

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        end = self.n + n
        if end > len(self.buf):
            if self.sink is None:  # a new buffer: views of the old one may be alive
                buf = bytearray(len(self.buf) + max(n, len(self.buf) // 2))
                buf[:self.n] = memoryview(self.buf)[:self.n]
                self.buf = buf
            else:
                self.sink.write(self.view())
                self.n, end = 0, n
                if n > len(self.buf):
                    self.sink.write(data)
                    return n
        self.buf[self.n:end] = data
        self.n = end
        return n

    def view(self):
        return memoryview(self.buf)[:self.n]
