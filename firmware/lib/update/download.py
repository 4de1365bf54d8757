"""A firmware update downloaded over HTTPS (docs/update.md, "Over MQTT"): the image at an
https:// URL streamed into the update service (update/service.py) as the HTTPS upload
streams its body, a flash sector at a time, never whole in the heap.

The server is verified as the MQTT broker is: its certificate against the CA of the
device identity (ca.der), its name against the URL's host; nothing in a command changes
which CA or key the device trusts. A minimal HTTP/1.0 GET; the answer must be 200 with a
Content-Length. Its head is read in small pieces and only what the update needs is kept
(status, Content-Length), within HEAD_MAX bytes. Optional hints from the command are
checked as the bytes pass: the size against Content-Length before anything is written,
the version against the image's descriptor before its first sector is, the SHA-256
against the whole file before the last bytes reach the engine (a refused image is never
made the boot slot).

Every refusal is a ValueError whose message starts with the check's name: url, dns,
network, tls, timeout, http, length, size, version, sha256, and the update service's
own (unavailable, busy, trial, board, signature, ...)."""
import asyncio
import binascii
import hashlib

from device.schema import is_ipv4
from net import tls
from update import image

try:
    from micropython import const
except ImportError:
    const = int

URL_MAX = const(512)
HEAD_MAX = const(4096)  # bytes of status line and headers
LINE_KEEP = const(128)  # of each head line: enough for the status line and Content-Length
CHUNK = const(512)  # the head is read in pieces of this size
CONNECT_S = const(10)  # TCP connect; the TLS handshake and the request get READ_S
READ_S = const(30)  # the longest silence of the server
_REASON = const(40)  # characters of the server's reason phrase kept for the report


def parse_url(url):
    """(host, port, path) of an https:// URL, or ValueError("url: ...")."""
    if not isinstance(url, str) or not url:
        raise ValueError("url: missing (https://host[:port]/path)")
    if len(url) > URL_MAX:
        raise ValueError("url: %d characters, at most %d" % (len(url), URL_MAX))
    if url[:8].lower() != "https://":
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme and len(scheme) < 12 and scheme.isalpha():
            raise ValueError("url: only https:// is allowed, not %s://" % scheme.lower())
        raise ValueError("url: not an https:// URL")
    rest = url[8:].split("#", 1)[0]
    cut = len(rest)
    for c in "/?":
        i = rest.find(c)
        if 0 <= i < cut:
            cut = i
    authority, path = rest[:cut], rest[cut:]
    if not path.startswith("/"):
        path = "/" + path
    for c in path:
        if not "!" <= c <= "~":
            raise ValueError("url: the path must be ASCII without spaces (percent-encode "
                             "them)")
    if "@" in authority:
        raise ValueError("url: user information is not allowed in the URL")
    if authority.startswith("["):
        raise ValueError("url: IPv6 addresses are not supported")
    host, port = authority, 443
    if ":" in authority:
        host, p = authority.split(":", 1)
        if not (p.isdigit() and len(p) < 6 and 0 < int(p) < 65536):
            raise ValueError("url: bad port %r" % p[:8])
        port = int(p)
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > 253:
        raise ValueError("url: no host" if not host else "url: the host name is too long")
    for label in host.split("."):
        if not 0 < len(label) < 64 or label[0] == "-" or label[-1] == "-":
            raise ValueError("url: bad host name %r" % host[:64])
        for c in label:
            if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-"):
                raise ValueError("url: bad host name %r" % host[:64])
    return host, port, path


def check_hints(hints):
    """(version, size, sha256 as lowercase hex) from the command's hints, each None when
    not given; ValueError naming the hint when one is malformed."""
    version = hints.get("version")
    size = hints.get("size")
    digest = hints.get("sha256")
    if version is not None and not (isinstance(version, str) and
                                    0 < len(version) < image.TEXT_LEN):
        raise ValueError("version: the hint must be a text of 1 to %d characters"
                         % (image.TEXT_LEN - 1))
    if size is not None and (type(size) is not int or size <= 0):
        raise ValueError("size: the hint must be a positive whole number of bytes")
    if digest is not None:
        if not isinstance(digest, str) or len(digest) != 64 or digest.strip(
                "0123456789abcdefABCDEF"):
            raise ValueError("sha256: the hint must be 64 hex digits")
        digest = digest.lower()
    return version, size, digest


def _printable(b, n):
    return "".join(chr(c) for c in b[:n] if 32 <= c < 127)


class Head:
    """The status line and headers of an HTTP/1.x response, fed in pieces: only the
    first LINE_KEEP bytes of each line are kept, the rest counted; more than HEAD_MAX
    bytes in all is refused. ValueError("http: ..." or "length: ...") for garbage."""

    def __init__(self):
        self._line = bytearray(LINE_KEEP)
        self._n = 0
        self._long = False
        self.size = 0
        self.status = None
        self.reason = ""
        self.length = None
        self.encoded = None  # a Transfer-Encoding other than identity
        self.done = False

    def feed(self, data):
        """Takes bytes until the head ends; how many it took (the rest is the body)."""
        line = self._line
        for i in range(len(data)):
            b = data[i]
            self.size += 1
            if self.size > HEAD_MAX:
                raise ValueError("http: the head is longer than %d bytes" % HEAD_MAX)
            if b == 10:
                self._end_line()
                self._n = 0
                self._long = False
                if self.done:
                    return i + 1
            elif self._n < LINE_KEEP:
                line[self._n] = b
                self._n += 1
            else:
                self._long = True
        return len(data)

    def _end_line(self):
        n = self._n
        if n and self._line[n - 1] == 13:
            n -= 1
        line = bytes(self._line[:n])
        for c in line:
            if c < 32 and c != 9 or c == 127:
                raise ValueError("http: a control byte in the head")
        if self.status is None:
            self._status_line(line)
        elif not n and not self._long:
            self.done = True
        elif line[0] in b" \t":
            raise ValueError("http: a folded header line")
        else:
            self._header(line)

    def _status_line(self, line):
        if self._long:
            raise ValueError("http: the status line is longer than %d bytes" % LINE_KEEP)
        if not (line.startswith(b"HTTP/1.") and len(line) >= 12 and line[8] == 32 and
                line[9:12].isdigit() and (len(line) == 12 or line[12] == 32)):
            raise ValueError("http: not an HTTP/1.x answer")
        self.status = int(line[9:12])
        self.reason = _printable(line[13:], _REASON)

    def _header(self, line):
        colon = line.find(b":")
        if colon < 0:
            if self._long:
                return  # a name longer than LINE_KEEP: none the update needs
            raise ValueError("http: a header line without a colon")
        name = line[:colon].strip().lower()
        value = line[colon + 1:].strip()
        if name == b"content-length":
            if self._long or not value.isdigit() or len(value) > 10:
                raise ValueError("length: Content-Length %r is not a number of bytes"
                                 % _printable(value, 20))
            n = int(value)
            if self.length is not None and n != self.length:
                raise ValueError("length: two different Content-Length headers")
            self.length = n
        elif name == b"transfer-encoding" and value.lower() != b"identity":
            self.encoded = _printable(value, 20)


def accept(head, size):
    """The body's length if the answer is one to take: 200 with a Content-Length, and
    the size hint's (not None) length; ValueError otherwise."""
    if head.status != 200:
        raise ValueError("http: the server answered %d %s" % (head.status, head.reason))
    if head.encoded is not None:
        raise ValueError("http: Transfer-Encoding %s is not supported" % head.encoded)
    if head.length is None:
        raise ValueError("length: the answer has no Content-Length")
    if size is not None and head.length != size:
        raise ValueError("size: the server sends %d bytes, the hint says %d"
                         % (head.length, size))
    return head.length


async def _read_into(reader, buf):
    """Bytes of the stream in buf (a memoryview): readinto on MicroPython, so no fresh
    block per read; 0 at the end. Each read waits READ_S at most."""
    try:
        if hasattr(reader, "readinto"):
            while True:
                n = await asyncio.wait_for(reader.readinto(buf), READ_S)
                if n is not None:  # None: woken with nothing to read after all
                    return n
        data = await asyncio.wait_for(reader.read(len(buf)), READ_S)
    except asyncio.TimeoutError:
        raise ValueError("timeout: the server sent nothing for %d s" % READ_S) from None
    except (OSError, ValueError) as e:
        raise _network(e) from None
    buf[:len(data)] = data
    return len(data)


def _network(e):
    """ValueError for an error of the connection: tls (CPython's SSLError; MicroPython's
    certificate refusals are ValueErrors, mbedTLS's codes negative) or network."""
    code = e.args[0] if e.args else None
    bad_tls = isinstance(e, ValueError) or type(e).__name__.startswith("SSL") or \
        isinstance(code, int) and code < 0
    return ValueError(("tls: %s" if bad_tls else "network: %s") % tls.error_text(e))


async def read_head(reader, buf):
    """(Head, the body's first bytes: a view of buf) of the answer on reader."""
    head = Head()
    while True:
        n = await _read_into(reader, buf)
        if not n:
            raise ValueError("http: the connection closed %s" % (
                "within the head" if head.size else "without an answer"))
        took = head.feed(buf[:n])
        if head.done:
            return head, buf[took:n]


class Body:
    """read(room) for Updates.receive: the bytes that came with the head first, then the
    stream's; the hints checked as the bytes pass, each before the engine takes them."""

    def __init__(self, reader, rest, total, version=None, digest=None, progress=None):
        self._reader = reader
        self._pending = rest
        self.total = total
        self.got = 0
        self._version = version
        self._desc = bytearray(image.HEAD_LEN) if version is not None else None
        self._digest = digest
        self._sha = hashlib.sha256() if digest is not None else None
        self._progress = progress

    async def read(self, room):
        p = self._pending
        if p:
            n = min(len(p), len(room))
            room[:n] = p[:n]
            self._pending = p[n:]
        else:
            n = await _read_into(self._reader, room)
        if n:
            self._check(room, n)
            self.got += n
            if self._progress is not None:
                self._progress(self.got, self.total)
        return n

    def _check(self, room, n):
        got = self.got
        if self._desc is not None and got < image.HEAD_LEN:
            k = min(n, image.HEAD_LEN - got)
            self._desc[got:got + k] = room[:k]
            if got + k == image.HEAD_LEN:
                try:
                    version = image.describe(self._desc).version
                except ValueError:  # not an image: the engine refuses it, naming why
                    version = self._version
                self._desc = None
                if version != self._version:
                    raise ValueError("version: the image is %s, the hint says %s"
                                     % (version, self._version))
        if self._sha is not None:
            self._sha.update(room[:n])
            if got + n >= self.total:
                d = binascii.hexlify(self._sha.digest()).decode()
                if d != self._digest:
                    raise ValueError("sha256: the file's is %s, the hint says %s"
                                     % (d, self._digest))


async def fetch(reader, updates, needs, size=None, version=None, digest=None,
                progress=None):
    """The answer on reader (the request sent) streamed into the update service that
    updates() gives once the head is accepted (its engine then refuses at once what
    another update holds): the new version once it is the boot slot, or ValueError."""
    head, rest = await read_head(reader, memoryview(bytearray(CHUNK)))
    total = accept(head, size)
    body = Body(reader, rest, total, version, digest, progress)
    return await updates().receive(body.read, total, needs)


async def download(url, hints, updates, needs, identity, resolve, progress=None):
    """The update at url (https://host[:port]/path) downloaded into updates() (the update
    service) over TLS verified with the identity's CA. hints: {"version", "size",
    "sha256"}, each optional; resolve(name): awaitable address or None; progress(got,
    total) after each read. The new version, made the boot slot (the caller reboots), or
    ValueError naming the check that refused it (nothing changed)."""
    host, port, path = parse_url(url)
    version, size, digest = check_hints(hints)
    ip = host if is_ipv4(host) else await resolve(host)
    if ip is None:
        raise ValueError("dns: cannot resolve %s" % host)
    try:
        ctx = tls.context(identity, client_cert=False)
    except (OSError, ValueError) as e:
        raise ValueError("tls: no CA to verify the server (%s)" % tls.error_text(e)) from None
    w = raw = None
    try:
        try:
            r, w, raw = await tls.open_connection(ip, port, host, ctx, CONNECT_S)
            w.write(("GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" % (
                path, host if port == 443 else "%s:%d" % (host, port))).encode())
            await asyncio.wait_for(w.drain(), READ_S)  # the handshake too (net/tls)
        except asyncio.TimeoutError:
            raise ValueError("timeout: %s:%d did not answer in time" % (host, port)) from None
        except (OSError, ValueError) as e:
            raise _network(e) from None
        try:
            return await fetch(r, updates, needs, size, version, digest, progress)
        except OSError as e:  # the connection's are ValueErrors by now: the slot's
            raise ValueError("flash: %s" % tls.error_text(e)) from None
    finally:
        if w is not None:
            await tls.close(w, raw)
