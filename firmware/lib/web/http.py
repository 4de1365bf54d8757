"""HTTP connections for a Microdot application, bounded for a device with a small heap and a
fixed number of sockets: at most max_conns at once (over it one waits briefly for a
slot, then gets a short 503 with Retry-After; more are closed at once), each request's
head and body read into a bounded buffer within a deadline (Microdot's own reader grows a
line without limit), errors answered with the API's JSON error body. Microdot routes and
answers: it and the applications are loaded with the first connection and let go when
the last one closes (an event stream needs neither once it runs), so a device whose UI
sits open keeps that heap (about 8 KB) free.

Keep-alive: a TLS handshake costs the device far more than a request, so a connection
may carry further requests while it has them, and yields its slot to a newcomer when
idle.

A request the heap is short for is answered 503 with Retry-After and counted per route
(refused, the status's heap.refused), never 500: the client tries again.
"""
import asyncio
import sys

from device.modules import forget
from net import wait
from web import answer, errors

HEAD_MAX = 2048  # request line and headers
BODY_MAX = 2048
DRAIN_MAX = 16384  # of a refused body, read and dropped so the answer arrives
# Requests whose body the route reads itself, as it comes (a firmware image: never whole
# in the heap): req.g.upload = (bytes of it read with the head, its length). The
# connection closes after the answer.
STREAMED = "POST /api/v1/firmware "
MAX_HEADERS = 32
DEADLINE_S = 10  # for a whole request to arrive once it has begun
GRACE_S = 0.5  # a connection over the limit waits this long for a slot
KEEP_ALIVE_S = 10  # an idle connection waits this long for its next request
_IDLE_STEP_S = 0.2  # how soon an idle connection yields its slot to a newcomer waiting
_IDLE_STEPS = int(KEEP_ALIVE_S / _IDLE_STEP_S)
# Reads take at most this much at a time, into the servers' one buffer (_recv).
_CHUNK = 512
_INTO = memoryview(bytearray(_CHUNK))
_WRAP = sys.implementation.name == "micropython"  # TLS wrapped per connection (_serve)


_SERVERS = []  # every server: their applications and Microdot are let go together
_MICRODOT = ("web.api", "web.routes", "web.assets", "web.landing", "microdot.microdot", "microdot")
_using = 0  # connections that may still need Microdot


def _use(n):
    global _using
    _using += n
    if _using == 0:
        for s in _SERVERS:
            s.app = None
        for name in _MICRODOT:
            forget(name)


class HttpServer:
    def __init__(self, build, scheme, max_conns, out, refused, turn, keep_alive=True):
        """build(): the Microdot application, made when the first request comes; out:
        the output buffer answers are written through (device/outbuf, shared); refused:
        {route: requests answered 503 for a short heap}, shared by the servers; turn:
        web.turn.Turn, shared by the servers and event streams."""
        _SERVERS.append(self)
        self.turn = turn
        self._build = build
        self.out = out
        self.short = refused
        self.app = None
        self.scheme = scheme
        self.max_conns = max_conns
        self.keep_alive = keep_alive
        self.active = 0
        self.waiting = False  # a newcomer waits for a slot
        self._freed = asyncio.Event()
        self._idlers = []  # [task, steps idle] of each connection waiting for a request
        self._watcher = None  # the task that ends idle connections (_watch)
        self.connections = 0
        self.requests = 0
        self.refused = 0  # over max_conns (answered 503, or closed while one waited)
        self.bad = 0  # requests answered 400/408/413/431

    async def start(self, port, host, ssl=None):
        self._tls = ssl if _WRAP else None
        self.server = await asyncio.start_server(self._serve, host, port,
                                                 ssl=None if _WRAP else ssl)

    async def _serve(self, reader, writer):
        raw = None
        if self._tls is not None:
            # Wrapped here, not by start_server: MicroPython 1.28 forgets the plain socket
            # when a TLS handshake fails (ssl_check_async_handshake_failure), so only a
            # reference kept here can close it; each such connection would leak a socket.
            raw = writer.s
            reader = writer = asyncio.StreamReader(self._tls.wrap_socket(
                raw, server_side=True, do_handshake_on_connect=False),
                {"peername": writer.get_extra_info("peername")})
        self.connections += 1
        _use(1)
        using = True
        try:
            if self.active >= self.max_conns and not await self._slot(writer):
                return
            self.active += 1
            try:
                follow = await self._requests(reader, writer, raw)
                if follow is not None:
                    using = False
                    _use(-1)
                    await follow(writer)
            finally:
                self.active -= 1
                self._freed.set()
        except (OSError, MemoryError, asyncio.TimeoutError):
            pass  # that connection only: a reset peer, a stalled one, or no heap for it
        finally:
            if using:
                _use(-1)
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass
            if raw is not None:
                raw.close()

    async def _requests(self, reader, writer, raw):
        """Answers requests until the connection is done; returns what a route left to
        run on it without Microdot (req.g.follow(writer): the event stream), or None."""
        pending = b""
        while True:
            taken = False
            try:
                got, pending = await self._next(reader, writer, pending)
                if got is None:
                    return None
                taken = await self.turn.take()
                req = await self._parse(got, reader, writer)
                got = None  # the head's lines: the Request holds what it needs of them
                if req is None:
                    return None
                follow, keep = await self._answer(req, writer)
            except MemoryError:  # how much of it was read is unknown: close after
                await self._short(writer, "request", False)
                return None
            finally:
                self.turn.give(taken)
            if follow is not None or not keep:
                return follow
            req = None  # an idle connection holds nothing of its last request
            if not pending:
                pending = await self._idle(reader, raw)
                if not pending:
                    return None

    async def _slot(self, writer):
        """True when a slot frees up soon: an idle keep-alive connection yields its own,
        and a client that reconnects right after its last answer often arrives before
        that connection is closed here. One newcomer waits; the others are closed."""
        if self.waiting:
            self.refused += 1
            return False
        self.waiting = True
        self._freed.clear()
        try:
            await asyncio.wait_for(self._freed.wait(), GRACE_S)
        except asyncio.TimeoutError:
            pass
        finally:
            self.waiting = False
        if self.active < self.max_conns:
            return True
        self.refused += 1
        await self._send(writer, errors.response(503, "http:busy",
                                                 "too many connections, try again",
                                                 headers={"Retry-After": "2"}))
        return False

    async def _idle(self, reader, raw):
        """The first bytes of the next request, or b"" to close: the client went, stayed
        silent KEEP_ALIVE_S, or someone waits for this slot (_watch ends the wait: one
        task for every idle connection, not a timer around each wait, ~300 bytes of heap
        per connection). Over TLS the wait is on the plain socket: MicroPython polls a TLS
        socket, which has no descriptor of its own, every millisecond, which slows every
        other task on the sim while a connection idles."""
        me = [asyncio.current_task(), 0]  # [task, steps idle]; -1: ended by _watch
        self._idlers.append(me)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())
        try:
            if raw is None:
                return await _recv(reader, _CHUNK)
            while True:
                n = reader.s.readinto(_INTO)  # what TLS holds already; None: nothing
                if n is not None:
                    return bytes(_INTO[:n])
                await wait.readable(raw)
        except asyncio.CancelledError:
            if me[1] >= 0:
                raise
            return b""
        finally:
            self._idlers.remove(me)
            if not self._idlers:
                self._watcher.cancel()
                self._watcher = None

    async def _watch(self):
        """Ends idle connections: one each step while a newcomer waits for a slot, and
        every one silent for KEEP_ALIVE_S. Runs while any connection idles."""
        while True:
            await asyncio.sleep(_IDLE_STEP_S)
            newcomer = self.waiting
            for me in self._idlers:
                if me[1] < 0:
                    continue
                me[1] += 1
                if newcomer or me[1] > _IDLE_STEPS:
                    newcomer = False
                    me[1] = -1
                    me[0].cancel()

    async def _send(self, writer, res, keep=False):
        reason = res.reason or errors.REASONS.get(res.status_code, "")
        await asyncio.wait_for(answer.send(writer, self.out, res, reason, keep,
                                           res.is_head), DEADLINE_S)

    async def _short(self, writer, route, keep):
        self._count(route)
        await asyncio.wait_for(answer.short(writer, self.out, keep), DEADLINE_S)

    def _count(self, route):
        self.short[route] = self.short.get(route, 0) + 1

    async def _answer(self, req, writer):
        """Dispatches req and sends the answer: (what a route left to run on the
        connection, or None; whether the connection stays open)."""
        self.requests += 1
        keep = self.keep_alive and _wants_keep_alive(req) and not hasattr(req.g, "upload")
        try:
            res = await req.app.dispatch_request(req)
            up = getattr(req.g, "upload", None)
            if up is not None:  # refused before its route read the body: drop it first
                await _drain(req.sock[0], min(up[1], DRAIN_MAX) - len(up[0]))
            if res is res.already_handled:
                return getattr(req.g, "follow", None), False
            if res.body is answer.SHORT:  # errors.short: Microdot met it
                self._count(_route(req))
            await self._send(writer, res, keep)
        except MemoryError:  # nothing of the answer went out yet
            await self._short(writer, _route(req), keep)
        return None, keep

    async def _next(self, reader, writer, pending):
        """((head lines, body), bytes of the next request already read), or (None, b"")
        after answering an error (counted in bad)."""
        try:
            lines, body, pending = await asyncio.wait_for(_read(reader, pending), DEADLINE_S)
            return (lines, body), pending
        except asyncio.TimeoutError:
            err = 408, "request:timeout", "the request did not arrive in time"
        except ValueError as e:
            err = e.args
        await self._refuse(writer, err)
        return None, b""

    async def _parse(self, got, reader, writer):
        """The Request of the head and body read, or None after answering a bad one."""
        try:
            return _parse(self, got[0], got[1], reader, writer)
        except ValueError as e:
            await self._refuse(writer, e.args)

    async def _refuse(self, writer, err):
        if err[0] is None:  # the client left between requests: nothing to answer
            return
        self.bad += 1
        await self._send(writer, errors.response(*err))


def _route(req):
    """The key a refused request is counted under: its path if a route took it (the
    API's paths are fixed), else "other" (the keys stay few whatever clients send)."""
    return req.path if getattr(req, "route", None) is not None else "other"


def _wants_keep_alive(req):
    conn = req.headers.get("Connection", "").lower()
    return conn == "keep-alive" if req.http_version == "1.0" else conn != "close"


async def _recv(reader, limit):
    """Up to limit bytes, b"" at the end: read into the servers' one buffer and copied out
    at the size that came. A stream's read(n) takes a fresh block of n bytes however few
    arrive, and 513 bytes are what a fragmented device heap lacks first (the soak at
    90 KB). The buffer is safe to share: each task reads into it when it wakes and copies
    out before anything else runs."""
    if not hasattr(reader, "readinto"):  # CPython's streams
        return await reader.read(min(limit, _CHUNK))
    view = _INTO if limit >= _CHUNK else _INTO[:limit]
    while True:
        n = await reader.readinto(view)
        if n is not None:  # None: woken with nothing to read after all
            return bytes(view[:n])


async def _read(reader, buf):
    """(lines of the head, body, the bytes after them) of one request, buf: what was read
    already. ValueError(status, code, reason); status None when the client closed before
    sending anything."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buf) >= HEAD_MAX:
            await _drain(reader, DRAIN_MAX)
            raise ValueError(431, "request:too-large", "request head over %d bytes" % HEAD_MAX)
        data = await _recv(reader, HEAD_MAX - len(buf))
        if not data:
            raise ValueError(None if not buf else 400, "request:bad",
                             "connection closed mid-request")
        buf = buf + data if buf else data
    lines = _lines(buf, end)
    rest = buf[end + 4:]
    length = 0
    for line in lines:
        if line[:15].lower() == "content-length:":
            v = line[15:].strip()
            if not v.isdigit():
                raise ValueError(400, "request:bad", "bad Content-Length")
            length = int(v)
    if lines[0].startswith(STREAMED):
        return lines, (rest[:length], length), b""
    if length > BODY_MAX:
        await _drain(reader, min(length, DRAIN_MAX) - len(rest))
        raise ValueError(413, "request:too-large", "body over %d bytes" % BODY_MAX)
    while len(rest) < length:
        data = await _recv(reader, length - len(rest))
        if not data:
            raise ValueError(400, "request:bad", "connection closed mid-body")
        rest += data
    return lines, rest[:length], rest[length:]


def _lines(buf, end):
    """The lines of the head buf[:end], each decoded on its own: the head is never copied
    whole (a fresh block of its size, up to HEAD_MAX)."""
    view = memoryview(buf)
    lines = []
    i = 0
    try:
        while i <= end:
            j = buf.find(b"\r\n", i, end)
            j = end if j < 0 else j
            lines.append(str(view[i:j], "utf-8"))
            i = j + 2
    except UnicodeError:
        raise ValueError(400, "request:bad", "not an HTTP request") from None
    return lines


async def _drain(reader, limit):
    """Read and drop up to limit bytes of what the client is still sending before a refusal:
    closing with unread data resets the connection, and the client never sees the answer."""
    try:
        while limit > 0:
            data = await asyncio.wait_for(_recv(reader, limit), 0.2)
            if not data:
                return
            limit -= len(data)
    except asyncio.TimeoutError:
        pass


def _parse(server, lines, body, reader, writer):
    from microdot.microdot import NoCaseDict, Request

    if server.app is None:
        server.app = server._build()
    try:
        method, url, version = lines[0].split()
    except ValueError:
        raise ValueError(400, "request:bad", "not an HTTP request") from None
    if not version.startswith("HTTP/1.") or not url.startswith("/"):
        raise ValueError(400, "request:bad", "not an HTTP/1.x request")
    if len(lines) - 1 > MAX_HEADERS:
        raise ValueError(431, "request:too-large", "over %d headers" % MAX_HEADERS)
    headers = NoCaseDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(400, "request:bad", "malformed header line")
        headers[name] = value.strip()
    streamed = isinstance(body, tuple)
    req = Request(server.app, writer.get_extra_info("peername"), method, url, version[5:],
                  headers, body=b"" if streamed else body, sock=(reader, writer),
                  scheme=server.scheme)
    if streamed:
        req.g.upload = body
    return req
