"""The mDNS packet format (RFC 6762, on DNS's of RFC 1035): our records, and bounded
reading of datagrams from the LAN, where anyone may send anything. Reading never raises
and decodes no names: names are compared in place with ours (same_name), so a datagram
costs a few small tuples whatever it holds; at most LIMIT questions or records are read."""
import struct

A, PTR, TXT, SRV, ANY = 1, 12, 16, 33, 255
IN = 1
TOP = 0x8000  # cache-flush in a response record's class, unicast-response in a question's
LIMIT = 24  # questions or records read per packet: a crafted count cannot make us loop
_HOPS = 8  # compression pointers followed per name: a pointer loop ends there


def skip_name(d, p):
    """The offset after the name at d[p] as it stands there (a compression pointer ends
    it), or -1 when it is cut or malformed."""
    start = p
    while p < len(d):
        n = d[p]
        if n == 0:
            return p + 1
        if n >= 0xC0:
            return p + 2 if p + 1 < len(d) else -1
        if n >= 64 or p + 1 + n - start > 255:  # reserved label types, an overlong name
            return -1
        p += 1 + n
    return -1


def same_name(d, p, target):
    """True if the name at d[p] is target (encoded by name(), in lower case), ASCII
    letters compared without case; at most _HOPS compression pointers are followed."""
    t = hops = 0
    while p < len(d):
        n = d[p]
        if n >= 0xC0:
            if p + 1 >= len(d) or hops == _HOPS:
                return False
            p = (n & 0x3F) << 8 | d[p + 1]
            hops += 1
            continue
        if n != target[t] or p + 1 + n > len(d):
            return False
        if n == 0:
            return True
        for i in range(1, n + 1):
            c = d[p + i]
            if c != target[t + i] and not (65 <= c <= 90 and c + 32 == target[t + i]):
                return False
        p += 1 + n
        t += 1 + n
    return False


def name(text):
    """text ("a.b.local") as DNS labels; ValueError for an empty or overlong label."""
    out = bytearray()
    for label in text.split("."):
        b = label.encode()
        if not 0 < len(b) < 64:
            raise ValueError("bad DNS label")
        out.append(len(b))
        out += b
    out.append(0)
    if len(out) > 255:
        raise ValueError("DNS name too long")
    return bytes(out)


def record(owner, rtype, ttl, rdata, flush=True):
    """One resource record; owner already encoded. flush: the cache-flush bit, set on
    records only this device has (RFC 6762 section 10.2)."""
    return b"".join((owner, struct.pack(">HHIH", rtype, TOP | IN if flush else IN, ttl,
                                        len(rdata)), rdata))  # one copy, not four


def txt(pairs):
    """TXT rdata: one length-prefixed "key=value" string per pair (RFC 6763 section 6)."""
    out = b""
    for k, v in pairs:
        s = ("%s=%s" % (k, v)).encode()[:255]
        out += bytes((len(s),)) + s
    return out


def srv(port, target):
    return b"\x00\x00\x00\x00" + port.to_bytes(2, "big") + target


def packet(qid, flags, questions, answers, authority=(), additional=(), qd=None):
    """A whole packet; questions: encoded question entries (name + type + class), or
    the question section of a query as it came with qd, its count."""
    parts = [struct.pack(">6H", qid, flags, len(questions) if qd is None else qd,
                         len(answers), len(authority), len(additional))]
    for section in (questions, answers, authority, additional):
        parts.extend(section)
    return b"".join(parts)


def question(owner, qtype, unicast=False):
    return owner + bytes((qtype >> 8, qtype & 0xFF, (TOP >> 8 if unicast else 0), IN))


def parse(d, only=None):
    """(id, flags, questions, records, end of the question section, questions in it) of
    datagram d, None when it has no header. questions: [(name, type)], records: [(name,
    type, section, rdata offset, rdata length)] of class IN (the top bit ignored) and of
    type only when given, section 1 answer, 2 authority, 3 additional; a name is its
    offset in d.
    Reading stops at the first malformed or cut entry (a datagram longer than the
    receive buffer arrives cut: what came whole still counts) and after LIMIT entries
    of each kind."""
    if len(d) < 12:
        return None
    qd, an, ns, ar = d[4] << 8 | d[5], d[6] << 8 | d[7], d[8] << 8 | d[9], d[10] << 8 | d[11]
    qs = []
    rs = []
    p = qend = 12
    nq = 0
    while nq < min(qd, LIMIT):
        n, p = p, skip_name(d, p)
        if p < 0 or p + 4 > len(d):
            return d[0] << 8 | d[1], d[2] << 8 | d[3], qs, rs, qend, nq
        if d[p + 2] & 0x7F == 0 and d[p + 3] == IN:
            qs.append((n, d[p] << 8 | d[p + 1]))
        p = qend = p + 4
        nq += 1
    if qd <= LIMIT:  # records are only where they seem to be if every question was read
        for section, count in ((1, an), (2, ns), (3, ar)):
            for _ in range(min(count, LIMIT - len(rs))):
                n, p = p, skip_name(d, p)
                if p < 0 or p + 10 > len(d) or p + 10 + (d[p + 8] << 8 | d[p + 9]) > len(d):
                    return d[0] << 8 | d[1], d[2] << 8 | d[3], qs, rs, qend, nq
                size = d[p + 8] << 8 | d[p + 9]
                t = d[p] << 8 | d[p + 1]
                if d[p + 2] & 0x7F == 0 and d[p + 3] == IN and (only is None or only == t):
                    rs.append((n, t, section, p + 10, size))
                p += 10 + size
    return d[0] << 8 | d[1], d[2] << 8 | d[3], qs, rs, qend, nq
