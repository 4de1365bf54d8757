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
into it too (it is a stream on both interpreters), but calls its write() for every token;
dump() is the fast way in."""
import io
import json

try:  # MicroPython: a stream with room for 512 bytes, which json.dump writes natively
    _SCRATCH = io.BytesIO(512)
except TypeError:  # CPython, where json.dumps is native and the heap is not the device's
    _SCRATCH = None


def _dumped(value):
    """(length, source) of value's JSON: the scratch stream holding it from its start, or
    the bytes (CPython). On MicroPython nothing is allocated (a value of up to 512 bytes)."""
    if _SCRATCH is None:
        data = json.dumps(value).encode()
        return len(data), data
    _SCRATCH.seek(0)
    json.dump(value, _SCRATCH)
    n = _SCRATCH.tell()
    _SCRATCH.seek(0)
    return n, _SCRATCH


def json_length(value):
    """The length in bytes of value's JSON as dump() writes it."""
    return _dumped(value)[0]


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
            self._full(n)
            if self.sink is not None and n > len(self.buf):
                self.sink.write(data)
                return n
            end = self.n + n
        self.buf[self.n:end] = data
        self.n = end
        return n

    def dump(self, value):
        """Appends value's JSON, serialized natively into a scratch stream and copied in
        from there: neither a call per token (json.dump into this) nor a fresh string of
        the value's size (json.dumps), which a fragmented heap often cannot give."""
        n, src = _dumped(value)
        if isinstance(src, bytes):
            self.write(src)
            return
        while n:
            if self.n == len(self.buf):
                self._full(n)
            k = src.readinto(memoryview(self.buf)[self.n:self.n + n])
            self.n += k
            n -= k

    def _full(self, n):
        """Room for more: the buffer goes to the sink and starts over, or (without a sink)
        a larger one holds what this one did and n bytes more."""
        if self.sink is None:  # a new buffer: views of the old one may be alive
            buf = bytearray(len(self.buf) + max(n, len(self.buf) // 2))
            buf[:self.n] = memoryview(self.buf)[:self.n]
            self.buf = buf
        else:
            self.sink.write(self.view())
            self.n = 0

    def view(self):
        return memoryview(self.buf)[:self.n]
