"""DNS A lookups without blocking the event loop: on the ESP32 socket.getaddrinfo waits in
lwIP for up to ~7 s per DNS server, which would stall Modbus and the meter input. The
query goes over net.udp; a reply must come from the server and echo the random id and the
question, so stray or blindly spoofed datagrams are ignored."""
import os
import socket

from net import udp

_HOPS = 8  # compression pointers followed per name: a pointer loop ends here


def _ipv4(s):
    """True for a dotted-quad literal (no leading zeros: those read as octal elsewhere)."""
    p = s.split(".")
    return len(p) == 4 and all(x and not x.strip("0123456789") and str(int(x)) == x and
                               int(x) < 256 for x in p)


def query(name, qid):
    """The A query (recursion desired) for name with id qid, or None for an invalid name."""
    if name.endswith("."):
        name = name[:-1]
    q = bytearray(qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")
    for label in name.split("."):
        b = label.encode()
        if not 0 < len(b) < 64:
            return None
        q.append(len(b))
        q += b
    if len(q) > 12 + 254:  # 255 bytes at most with the root label
        return None
    q += b"\x00\x00\x01\x00\x01"
    return q


def _name(d, p):
    """(name at d[p] in lowercase, offset after it in place), or (None, 0) if malformed."""
    out, end, hops = b"", 0, 0  # end: after the first pointer, where the name went on
    while p < len(d):
        n = d[p]
        if n == 0:
            return out.lower(), end or p + 1
        if n >= 0xC0:
            if p + 1 >= len(d) or hops == _HOPS:
                break
            end = end or p + 2
            p = (n & 0x3F) << 8 | d[p + 1]
            hops += 1
        elif n < 64 and p + 1 + n <= len(d) and len(out) + n < 255:
            out += (b"." if out else b"") + d[p + 1:p + 1 + n]
            p += 1 + n
        else:  # reserved label types 0x40 and 0x80, or an overlong name
            break
    return None, 0


def _ours(d, q):
    """True if d answers query q: QR set, opcode 0, same id and the same question."""
    return len(d) >= len(q) and d[:2] == q[:2] and d[2] & 0xF8 == 0x80 and \
        d[4:6] == b"\x00\x01" and d[12:len(q)] == q[12:]


def _answer(d, q):
    """The first A record in the answer d to q for q's name, following CNAMEs."""
    if d[3] & 0x0F:
        return None
    want = _name(q, 12)[0]
    p = len(q)
    for _ in range(d[6] << 8 | d[7]):
        rname, p = _name(d, p)
        if rname is None or p + 10 > len(d):
            return None
        rtype = d[p] << 8 | d[p + 1]
        ours = rname == want and d[p + 2] == 0 and d[p + 3] == 1  # class IN
        size = d[p + 8] << 8 | d[p + 9]
        p += 10
        if p + size > len(d):
            return None
        if ours and rtype == 1 and size == 4:
            return "%d.%d.%d.%d" % tuple(d[p:p + 4])
        if ours and rtype == 5:
            want = _name(d, p)[0]
            if want is None:
                return None
        p += size
    return None


def parse(d, qid, name):
    """The address in the answer d to the A query (qid, name), or None: not an answer to
    it, NXDOMAIN or another error, no A record, or malformed."""
    q = query(name, qid)
    if q is None or not _ours(d, q):
        return None
    return _answer(d, q)


def _verdict(d, q):
    """For udp.ask: None for a datagram that does not answer q (keep waiting), False for a
    server failure (SERVFAIL, REFUSED: ask again), else the address or "" (NXDOMAIN, no
    A record: final)."""
    if not _ours(d, q):
        return None
    if d[3] & 0x0F not in (0, 3):
        return False
    return _answer(d, q) or ""


async def resolve(name, server, timeout_ms=2000, tries=2):
    """IPv4 address of name as a dotted string, or None. server: (ip, port); each of the
    tries asks again (from a new port) and waits up to timeout_ms. Never raises OSError:
    no sockets left or the network down is an unresolved name, not a reason to end the
    caller."""
    if name == "localhost":
        return "127.0.0.1"
    if _ipv4(name):
        return name
    q = query(name, int.from_bytes(os.urandom(2), "big"))
    if q is None or server is None:
        return None
    try:
        addr = socket.getaddrinfo(server[0], server[1])[0][-1]  # a literal: no lookup
    except OSError:
        return None
    for _ in range(tries):
        got = await udp.ask(addr, q, 512, timeout_ms, lambda d: _verdict(d, q))
        if got or got == "":
            return got or None
    return None
