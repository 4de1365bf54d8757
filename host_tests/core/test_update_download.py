"""The firmware download's portable core (update/download.py) on both interpreters: URL
parsing and its refusals, the hints, the bounded head parser and the body's checks,
driven with in-memory readers (the TLS connection itself: test_sim_mqtt_update.py)."""
import asyncio
import binascii
import hashlib
import struct

from update import download, image
from update.download import Head, accept, check_hints, fetch, parse_url, read_head


def _hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def _refused(f, *args, start=None):
    """The refusal's message (ValueError); start: the text it must begin with."""
    try:
        f(*args)
    except ValueError as e:
        msg = str(e)
        assert start is None or msg.startswith(start), msg
        return msg
    raise AssertionError("not refused: %r" % (args,))


def _arefused(coro, start):
    try:
        asyncio.run(coro)
    except ValueError as e:
        msg = str(e)
        assert msg.startswith(start), msg
        return msg
    raise AssertionError("not refused")


class Reader:
    """A stream giving data in pieces of at most step bytes (or as the sizes in steps),
    with read() (CPython's streams) or, into=True, readinto() (MicroPython's), which
    sometimes wakes with nothing (None). fail: raised once the data is out."""

    def __init__(self, data, step=7, into=False, fail=None):
        self.data = data
        self.at = 0
        self.step = step
        self.calls = 0
        self.fail = fail
        if into:
            self.readinto = self._readinto

    def _next(self, n):
        self.calls += 1
        if self.at >= len(self.data) and self.fail is not None:
            raise self.fail
        k = min(n, self.step, len(self.data) - self.at)
        piece = memoryview(self.data)[self.at:self.at + k]  # no copy: a small heap
        self.at += k
        return piece

    async def read(self, n):
        return bytes(self._next(n))

    async def _readinto(self, buf):
        if self.calls % 3 == 1:
            self.calls += 1
            return None
        piece = self._next(len(buf))
        buf[:len(piece)] = piece
        return len(piece)


class Updates:
    """Updates.receive's contract: reads total bytes through read(room) in rooms of at
    most 4 KB (the engine's block), as update/service.py does."""

    def __init__(self, room=4096, refuse=None):
        self.got = bytearray()
        self.n = 0  # bytes read so far
        self.room = room
        self.refuse = refuse
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self

    async def receive(self, read, total, needs):
        if self.refuse:
            raise ValueError(self.refuse)
        data = self.got = bytearray(total)  # one block: the unix port's heap is small
        got = 0
        while got < total:
            n = await read(memoryview(data)[got:got + min(self.room, total - got)])
            if not n:
                raise ValueError("length: the image ended at %d of %d bytes" % (got, total))
            got += n
            self.n = got
        return "new"


def test_urls_give_host_port_and_path():
    assert parse_url("https://example.com/fw/sim-1.2.bin") == ("example.com", 443,
                                                               "/fw/sim-1.2.bin")
    assert parse_url("https://Updates.Example.NET:8443/a/b?x=1&y=%20#top") == (
        "updates.example.net", 8443, "/a/b?x=1&y=%20")
    assert parse_url("HTTPS://10.0.0.7") == ("10.0.0.7", 443, "/")
    assert parse_url("https://localhost:1?q") == ("localhost", 1, "/?q")
    assert parse_url("https://fw.example.com./x") == ("fw.example.com", 443, "/x")


def test_every_url_but_a_sane_https_one_is_refused():
    assert _refused(parse_url, "http://example.com/fw.bin", start="url: ") == (
        "url: only https:// is allowed, not http://")
    assert "ftp://" in _refused(parse_url, "ftp://example.com/fw.bin")
    for bad in (None, 5, "", "example.com/fw.bin", "https:/example.com", "https://",
                "https:///fw.bin", "https://:443/x", "https://h:0/", "https://h:65536/",
                "https://h:/", "https://h:44a/", "https://h:1234567/",
                "https://user:pw@h/x", "https://h@evil/x", "https://[::1]/x",
                "https://h/a b", "https://h/a\tb", "https://h/\u00e9", "https://h/\x00",
                "https://bad_host/x", "https://-h/x", "https://h-/x", "https://a..b/x",
                "https://h\u00e9/x", "https://" + "a" * 64 + ".com/x",
                "https://" + ".".join(["abcdefghi"] * 26) + "/x",
                "https://h/" + "a" * download.URL_MAX):
        _refused(parse_url, bad, start="url: ")
    assert "512" in _refused(parse_url, "https://h/" + "a" * 600)


def test_hints_are_checked_and_named():
    assert check_hints({}) == (None, None, None)
    digest = "AB" * 32
    assert check_hints({"version": "1.2.0", "size": 12, "sha256": digest}) == (
        "1.2.0", 12, digest.lower())
    for hints, name in (({"version": 12}, "version: "), ({"version": ""}, "version: "),
                        ({"version": "v" * 32}, "version: "), ({"size": True}, "size: "),
                        ({"size": 0}, "size: "), ({"size": -5}, "size: "),
                        ({"size": "12"}, "size: "), ({"size": 1.5}, "size: "),
                        ({"sha256": "ab"}, "sha256: "), ({"sha256": "g" * 64}, "sha256: "),
                        ({"sha256": 5}, "sha256: ")):
        _refused(check_hints, hints, start=name)


OK = (b"HTTP/1.1 200 OK\r\nServer: test\r\nContent-Type: application/octet-stream\r\n"
      b"Content-Length: 1000\r\nSet-Cookie: " + b"c" * 900 + b"\r\n\r\n")


def _head(data, step=7, into=False, chunk=download.CHUNK):
    return asyncio.run(read_head(Reader(data, step, into), memoryview(bytearray(chunk))))


def test_the_head_gives_status_length_and_the_first_body_bytes():
    body = bytes(range(256)) * 4
    for step in (1, 5, 512, 4096):
        for into in (False, True):
            head, rest = _head(OK + body, step, into)
            assert head.status == 200 and head.reason == "OK" and head.length == 1000
            assert head.size == len(OK) and head.encoded is None
            assert bytes(rest) == body[:len(rest)]
            assert accept(head, None) == 1000 and accept(head, 1000) == 1000
    head, rest = _head(b"HTTP/1.0 200\nContent-Length:0\n\n", 4096)  # bare LF, no reason
    assert (head.status, head.reason, head.length, bytes(rest)) == (200, "", 0, b"")
    head, _ = _head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length:  5 \r\n\r\n")
    assert head.length == 5


def test_answers_other_than_200_with_a_length_are_refused():
    cases = ((b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", None,
              "http: the server answered 404 Not Found"),
             (b"HTTP/1.1 302 Found\r\nLocation: https://x/\r\n\r\n", None,
              "http: the server answered 302 Found"),
             (b"HTTP/1.1 500 \x80\xffOops\r\n\r\n", None, "http: the server answered 500 Oops"),
             (b"HTTP/1.1 200 OK\r\n\r\n", None, "length: the answer has no Content-Length"),
             (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n",
              None, "http: Transfer-Encoding chunked is not supported"),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", 10,
              "size: the server sends 9 bytes, the hint says 10"))
    for data, size, want in cases:
        head, _ = _head(data)
        assert _refused(accept, head, size) == want


def test_garbage_and_oversized_heads_are_refused():
    long_head = b"HTTP/1.1 200 OK\r\n" + (b"X-Pad: " + b"p" * 100 + b"\r\n") * 40
    cases = ((b"", "http: the connection closed without an answer"),
             (b"HTTP/1.1 200 OK\r\nContent-Len", "http: the connection closed within"),
             (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "http: not an HTTP/1.x answer"),
             (b"HTTP/2 200\r\n\r\n", "http: not an HTTP/1.x answer"),
             (b"HTTP/1.1 20x OK\r\n\r\n", "http: not an HTTP/1.x answer"),
             (b"HTTP/1.1 2000 OK\r\n\r\n", "http: not an HTTP/1.x answer"),
             (b"\r\nHTTP/1.1 200 OK\r\n\r\n", "http: not an HTTP/1.x answer"),
             (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n", "http: a control byte"),
             (b"HTTP/1.1 200 " + b"O" * 200 + b"\r\n\r\n", "http: the status line is longer"),
             (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "http: a header line without"),
             (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", "http: a folded header"),
             (b"HTTP/1.1 200 OK\r\nX-A: \x00\r\n\r\n", "http: a control byte"),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", "length: Content-Length"),
             (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "length: Content-Length"),
             (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "length: Content-Length"),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "length: "),
             (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"1" * 200 + b"\r\n\r\n", "length: "),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
              "length: two different Content-Length headers"),
             (long_head, "http: the head is longer than 4096 bytes"),
             (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 5000, "http: the head is longer than"))
    for data, want in cases:
        for step in (1, 600):
            _arefused(read_head(Reader(data, step), memoryview(bytearray(512))), want)


def test_a_head_line_is_kept_to_its_first_bytes_however_long():
    h = Head()
    line = b"X-Long: " + b"z" * 3000 + b"\r\n"
    assert h.feed(b"HTTP/1.1 200 OK\r\n" + line + b"Content-Length: 3\r\n\r\nabc") == (
        17 + len(line) + 21)
    assert h.done and h.length == 3 and len(h._line) == download.LINE_KEEP


def _image_head(version, board="sim"):
    """The first bytes of an app image (update/image.describe reads them)."""
    h = bytearray(image.HEAD_LEN)
    h[0], h[1], h[23] = image.MAGIC, 1, 1
    struct.pack_into("<II", h, image.HEADER_LEN, 0x3F400020, 4096)
    struct.pack_into("<II", h, image.DESC_AT, image.DESC_MAGIC, 0)
    h[image.VERSION_AT:image.VERSION_AT + len(version)] = version.encode()
    h[image.NAME_AT:image.NAME_AT + len(board)] = board.encode()
    return bytes(h)


def _answer(body):
    return b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def _fetch(body, step=1500, into=False, room=4096, updates=None, **kw):
    u = updates or Updates(room)
    seen = []
    got = asyncio.run(fetch(Reader(_answer(body), step, into), u, ["modbus"],
                            progress=lambda n, total: seen.append((n, total)), **kw))
    return got, u, seen


def test_the_body_reaches_the_update_service_whole_with_progress():
    body = _image_head("2.0.0") + bytes(range(251)) * 30
    digest = _hex(body)
    for step, into, room in ((1500, False, 4096), (333, True, 100), (9000, True, 4096)):
        got, u, seen = _fetch(body, step, into, room, size=len(body), version="2.0.0",
                              digest=digest)
        assert got == "new" and bytes(u.got) == body and u.calls == 1
        assert seen[-1] == (len(body), len(body)) and len(seen) >= len(body) // 4096
        assert [n for n, _ in seen] == sorted(n for n, _ in seen)


def test_version_and_sha256_hints_refuse_before_the_engine_takes_the_bytes():
    body = _image_head("2.0.0") + b"\x55" * 10000
    u = Updates(100)
    _arefused(fetch(Reader(_answer(body), 50), u, [], version="2.0.1"),
              "version: the image is 2.0.0, the hint says 2.0.1")
    assert u.n < image.HEAD_LEN  # the head's last piece never reached it
    u = Updates()
    msg = _arefused(fetch(Reader(_answer(body), 1000), u, [], digest="0" * 64),
                    "sha256: the file's is %s" % _hex(body))
    assert msg.endswith("the hint says " + "0" * 64)
    assert u.n < len(body)  # the last bytes were held back
    # A version hint on a file that is no image: the engine names what is wrong.
    got, u, _ = _fetch(b"\x00" * 5000, version="2.0.0")
    assert got == "new"


def test_refusals_of_the_update_service_and_of_the_connection_pass_through():
    u = Updates(refuse="unavailable: this image has no second slot to update")
    _arefused(fetch(Reader(_answer(b"x" * 300)), u, []), "unavailable: ")
    _arefused(fetch(Reader(_answer(b"x" * 300)[:-10]), Updates(), []),
              "length: the image ended at 290 of 300 bytes")
    for fail, want in ((OSError(104, "ECONNRESET"), "network: "),
                       (OSError(-0x2700, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED"), "tls: "),
                       (ValueError("The certificate is not correctly signed by the trusted "
                                   "CA"), "tls: The certificate is not correctly signed"),
                       (asyncio.TimeoutError(), "timeout: the server sent nothing for 30 s")):
        for data in (b"HTTP/1.1 200", _answer(b"y" * 300)[:-10]):
            for into in (False, True):
                _arefused(fetch(Reader(data, 100, into, fail), Updates(), []), want)


def test_hostile_hints_and_urls_never_reach_the_network():
    async def resolve(name):
        raise AssertionError("resolved")

    for url, hints, want in (("http://x/y", {}, "url: "), ("https://x/y", {"size": -1},
                                                            "size: ")):
        _arefused(download.download(url, hints, None, [], None, resolve), want)

    async def nothing(name):
        return None
    _arefused(download.download("https://nowhere.example/fw", {}, None, [], None, nothing),
              "dns: cannot resolve nowhere.example")
