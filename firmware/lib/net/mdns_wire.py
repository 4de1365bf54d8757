"""The mDNS packet format (RFC 6762, on DNS's of RFC 1035): our records encoded once, and
bounded reading of datagrams from the LAN, where anyone may send anything. Reading never
raises: a malformed packet is None; at most LIMIT questions or records are looked at."""
from net.dns import read_name

A, PTR, TXT, SRV, ANY = 1, 12, 16, 33, 255
IN = 1
TOP = 0x8000  # cache-flush in a response record's class, unicast-response in a question's
LIMIT = 24  # questions or records read per packet: a crafted count cannot make us loop


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
    return owner + bytes((rtype >> 8, rtype & 0xFF, (TOP >> 8 if flush else 0), IN)) + \
        ttl.to_bytes(4, "big") + len(rdata).to_bytes(2, "big") + rdata


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
    return b"".join([qid.to_bytes(2, "big"), flags.to_bytes(2, "big"),
                     (len(questions) if qd is None else qd).to_bytes(2, "big"),
                     len(answers).to_bytes(2, "big"),
                     len(authority).to_bytes(2, "big"), len(additional).to_bytes(2, "big")] +
                    list(questions) + list(answers) + list(authority) + list(additional))


def question(owner, qtype, unicast=False):
    return owner + bytes((qtype >> 8, qtype & 0xFF, (TOP >> 8 if unicast else 0), IN))


def parse(d):
    """(id, flags, questions, records, end of the question section, questions in it) of
    datagram d, None when it has no header. questions: [(name, type)], records: [(name,
    type, section, rdata offset, rdata length)] of class IN (the top bit ignored),
    section 1 answer, 2 authority, 3 additional; names are lowercase dotted bytes.
    Reading stops at the first malformed or cut entry (a datagram longer than the
    receive buffer arrives cut: what came whole still counts) and after LIMIT entries
    of each kind."""
    if len(d) < 12:
        return None
    qd, an, ns, ar = (d[i] << 8 | d[i + 1] for i in (4, 6, 8, 10))
    qs = []
    rs = []
    p = qend = 12
    nq = 0
    while nq < min(qd, LIMIT):
        n, p = read_name(d, p)
        if n is None or p + 4 > len(d):
            return d[0] << 8 | d[1], d[2] << 8 | d[3], qs, rs, qend, nq
        if d[p + 2] & 0x7F == 0 and d[p + 3] == IN:
            qs.append((n, d[p] << 8 | d[p + 1]))
        p = qend = p + 4
        nq += 1
    if qd <= LIMIT:  # records are only where they seem to be if every question was read
        for section, count in ((1, an), (2, ns), (3, ar)):
            for _ in range(min(count, LIMIT - len(rs))):
                n, p = read_name(d, p)
                if n is None or p + 10 > len(d) or p + 10 + (d[p + 8] << 8 | d[p + 9]) > len(d):
                    return d[0] << 8 | d[1], d[2] << 8 | d[3], qs, rs, qend, nq
                size = d[p + 8] << 8 | d[p + 9]
                if d[p + 2] & 0x7F == 0 and d[p + 3] == IN:
                    rs.append((n, d[p] << 8 | d[p + 1], section, p + 10, size))
                p += 10 + size
    return d[0] << 8 | d[1], d[2] << 8 | d[3], qs, rs, qend, nq
