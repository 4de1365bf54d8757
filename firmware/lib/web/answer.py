"""Writes an answer (a Microdot Response) on a connection in pieces, through the web
service's one output buffer (device/outbuf), with the loop free between pieces. Built as
one fresh string (json.dumps, Microdot's writer) an answer needs a contiguous block of
its size, which a fragmented device heap lacks long before it runs out of memory
(issue 19: one status request in four failed with 31 KB free), and holds the loop while
it is built and encrypted.

- The head and a small body go out in one piece: headers written apart meet the
  client's delayed ACK (40 ms each) and become a TLS record each.
- A JSON body (Json) is written member by member of its outer object or list; its
  length is counted first by the same writer, so the answer keeps a Content-Length and
  the connection its keep-alive.
- A large body (the UI's files: constants in flash on the device) goes out in slices.
Use of the shared buffer: clear it, fill it, hand it to the stream's write() and only
then await (write() copies what the socket does not take); after any await, clear it
again before writing: other tasks have used it meanwhile.
"""
import asyncio

from device.outbuf import json_length

PIECE = 512  # a filled buffer is sent once it holds this much
SLICE = 1024  # of a large body, written at a time
# Every answer, the event stream's too (docs/http-api.md): bytes, so that writing them
# allocates nothing (constants stay in flash on the device).
SECURITY = (b"Content-Security-Policy: default-src 'none'; script-src 'self'; "
            b"style-src 'self'; img-src 'self'; connect-src 'self'; "
            b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n"
            b"X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
            b"Referrer-Policy: no-referrer\r\n")
# The body of the answer to a request the heap is short for (errors.short, short()).
SHORT = b'{"error": "heap:short", "field": null, "reason": "no memory for this request ' \
        b'just now; try again"}'


class Json:
    """A JSON body: the value, or a function that gives it when the answer is written
    (so that a short heap meets the writer, which answers 503, not the route). It is
    written twice, counted then sent, with the loop free between pieces: it must not
    change meanwhile (a function builds a fresh one; nothing in it is a live object)."""

    def __init__(self, value):
        self.value = value


class _Count:
    """Counts what the writer would write (Out's write and dump)."""

    def __init__(self):
        self.n = 0

    def write(self, data):
        self.n += len(data)

    def dump(self, value):
        self.n += json_length(value)


def _members(out, value):
    """Writes value's JSON into out, yielding after each member of the outer object or
    list (each a few hundred bytes at most)."""
    if isinstance(value, dict):
        out.write(b"{")
        sep = b""
        for k in value:
            out.write(sep)
            out.dump(k)
            out.write(b": ")
            out.dump(value[k])
            sep = b", "
            yield
        out.write(b"}")
    elif isinstance(value, (list, tuple)):
        out.write(b"[")
        sep = b""
        for v in value:
            out.write(sep)
            out.dump(v)
            sep = b", "
            yield
        out.write(b"]")
    else:
        out.dump(value)


async def _length(value):
    """The length of value's JSON, counted with the writer's own code (the loop free
    every PIECE bytes, as when it is written)."""
    count = _Count()
    mark = 0
    for _ in _members(count, value):
        if count.n - mark >= PIECE:
            mark = count.n
            await asyncio.sleep(0)
    return count.n


def _head(out, status, reason, headers, length, keep, kind=None):
    out.write("HTTP/1.0 %d %s\r\n" % (status, reason))
    for k in headers:
        out.write(k)
        out.write(b": ")
        out.write(headers[k])
        out.write(b"\r\n")
    if kind is not None and "Content-Type" not in headers:
        out.write(b"Content-Type: ")
        out.write(kind)
        out.write(b"\r\n")
    out.write(SECURITY)
    out.write(b"Content-Length: %d\r\nConnection: %s\r\n\r\n" % (
        length, b"keep-alive" if keep else b"close"))


async def _flush(writer, out, timeout=None):
    """Sends what out holds; out is cleared after the wait, as other tasks may have
    written into it meanwhile."""
    writer.write(out.view())
    if timeout is None:
        await writer.drain()
    else:
        await asyncio.wait_for(writer.drain(), timeout)
    out.clear(writer)


async def write_json(writer, out, value, end=b"", timeout=None):
    """Writes value's JSON after what out holds, then end, and sends it all, each PIECE
    as it fills, the loop free between pieces; timeout: for each to be taken. Await it
    directly (not through wait_for, which starts it as a task of its own, later): out
    holds what goes before, and no other task may run before it is sent."""
    for _ in _members(out, value):
        if out.n >= PIECE:
            await _flush(writer, out, timeout)
    out.write(end)
    await _flush(writer, out, timeout)


async def send(writer, out, res, reason, keep, head_only=False):
    """Writes res (status, headers, body: bytes, str or Json) on writer. A MemoryError
    before anything was written reaches the caller, which can still answer; once the
    head is out it becomes an OSError: that connection only is closed."""
    body = res.body
    if isinstance(body, Json):
        value = body.value() if callable(body.value) else body.value
        length = await _length(value)
        kind = b"application/json"
    else:
        if isinstance(body, str):
            body = body.encode()
        body = body or b""
        length = len(body)
        kind = b"text/plain; charset=UTF-8" if body else None
    out.clear(writer)
    _head(out, res.status_code, reason, res.headers, length, keep, kind)
    try:
        if head_only:
            pass
        elif isinstance(body, Json):
            await write_json(writer, out, value)
            return
        elif len(body) <= SLICE - out.n:
            out.write(body)
        else:
            await _flush(writer, out)
            view = memoryview(body)
            for i in range(0, length, SLICE):
                writer.write(view[i:i + SLICE])
                await writer.drain()
            return
        await _flush(writer, out)
    except MemoryError:
        raise OSError("no heap to finish the answer") from None


async def short(writer, out, keep):
    """The answer when the heap is short for a request: 503 and Retry-After, written
    from constants (no heap needed), so the client knows to try again."""
    out.clear(writer)
    out.write(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\n"
              b"Content-Type: application/json\r\nCache-Control: no-store\r\n")
    out.write(SECURITY)
    out.write(b"Content-Length: %d\r\nConnection: %s\r\n\r\n" % (
        len(SHORT), b"keep-alive" if keep else b"close"))
    out.write(SHORT)
    await _flush(writer, out)
