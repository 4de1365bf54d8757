"""Non-blocking DNS client: the query and answer formats, then resolve() against a local
UDP server in the same event loop (plain answers, CNAME chains, NXDOMAIN, stray and
spoofed replies, silence while other tasks keep running)."""
import asyncio
import socket

from net import dns

PORT = 15491  # the server; OTHER sends the replies that come from elsewhere
OTHER = 15492
NAME = "www.example.com"
QUESTION = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"


def _ptr(offset):
    return bytes((0xC0 | offset >> 8, offset & 0xFF))


def _rr(name, rtype, rdata, cls=1):
    """One resource record; name already encoded (labels or a pointer)."""
    return name + rtype.to_bytes(2, "big") + cls.to_bytes(2, "big") + b"\x00\x00\x01\x2c" + \
        len(rdata).to_bytes(2, "big") + rdata


def _reply(req, records=(), rcode=0, qid=None, flags=0x81):
    """The answer to the request req: its id (or qid), its question, the records."""
    head = (bytes(req[:2]) if qid is None else qid.to_bytes(2, "big")) + \
        bytes((flags, 0x80 | rcode)) + b"\x00\x01" + len(records).to_bytes(2, "big") + bytes(4)
    return head + bytes(req[12:]) + b"".join(records)


def _a(req, ip=(10, 0, 0, 1)):
    return _reply(req, [_rr(_ptr(12), 1, bytes(ip))])


def _chain(req):
    """www.example.com -> cdn.example.com -> EDGE.cdn.example.com -> 1.2.3.4, written with
    compression pointers into the question and into earlier records, after a decoy A
    record for another name and an A record of another class."""
    decoy = _rr(b"\x04mail" + _ptr(16), 1, b"\x09\x09\x09\x09")
    chaos = _rr(_ptr(12), 1, b"\x08\x08\x08\x08", cls=3)
    first = _rr(_ptr(12), 5, b"\x03cdn" + _ptr(16))
    cdn = len(req) + len(decoy) + len(chaos) + len(first) - 6  # first's target name
    second = _rr(_ptr(cdn), 5, b"\x04EDGE" + _ptr(cdn))
    return _reply(req, [decoy, chaos, first, second,
                        _rr(b"\x04edge" + _ptr(cdn), 1, b"\x01\x02\x03\x04")])


def test_query_format_and_invalid_names():
    q = dns.query(NAME, 0x1234)
    assert q == b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + QUESTION
    assert dns.query(NAME + ".", 0x1234) == q
    for bad in ("", ".", "a..b", ".a", "a" * 64 + ".com", "\u00e9" * 32):
        assert dns.query(bad, 1) is None, bad
    longest = ".".join(["a" * 63] * 3 + ["a" * 61])  # 255 bytes encoded
    assert len(dns.query(longest, 1)) == 12 + 255 + 4
    assert dns.query(longest + "a", 1) is None


def test_parse_answers():
    req = dns.query(NAME, 0x1234)
    assert dns.parse(_a(req), 0x1234, NAME) == "10.0.0.1"
    mixed = dns.query("WWW.Example.COM.", 0x1234)  # records match in any case...
    answer = _reply(mixed, [_rr(QUESTION[:-4], 1, b"\x01\x02\x03\x04")])
    assert dns.parse(answer, 0x1234, "WWW.Example.COM") == "1.2.3.4"
    assert dns.parse(_a(req), 0x1234, "WWW.Example.COM") is None  # ...the question as sent
    assert dns.parse(_chain(req), 0x1234, NAME) == "1.2.3.4"
    assert dns.parse(_a(req), 0x1235, NAME) is None  # another id
    assert dns.parse(_a(req), 0x1234, "example.com") is None  # another question
    assert dns.parse(_a(req, (1, 2, 3, 4)), 0x1234, NAME) == "1.2.3.4"
    assert dns.parse(_reply(req, [_rr(_ptr(12), 1, b"\x01\x02\x03\x04")], flags=0x01),
                     0x1234, NAME) is None  # QR clear: a query, not an answer
    assert dns.parse(_reply(req, [_rr(_ptr(12), 1, b"\x01\x02\x03\x04")], flags=0x89),
                     0x1234, NAME) is None  # opcode 1
    assert dns.parse(_reply(req, rcode=3), 0x1234, NAME) is None  # NXDOMAIN
    aaaa = _reply(req, [_rr(_ptr(12), 28, bytes(16))])
    assert dns.parse(aaaa, 0x1234, NAME) is None
    assert dns.parse(_reply(req, [_rr(_ptr(12), 1, b"\x01\x02\x03")]), 0x1234, NAME) is None
    loop = _reply(req, [_rr(_ptr(len(req)), 1, b"\x01\x02\x03\x04")])  # points at itself
    assert dns.parse(loop, 0x1234, NAME) is None
    good = _chain(req)
    for n in range(len(good)):  # every truncation
        assert dns.parse(good[:n], 0x1234, NAME) is None
    count = bytearray(good)
    count[7] = 0xFF  # more records announced than there are
    assert dns.parse(bytes(count), 0x1234, NAME) == "1.2.3.4"
    count[7] = 3  # the chain cut before its A record
    assert dns.parse(bytes(count), 0x1234, NAME) is None


def _resolve(name, answers, timeout_ms=1000, tries=2):
    """resolve() against a local server that answers the i-th request req with
    answers(req, i): a list of (from_elsewhere, datagram), sent in order from the server's
    address or from another port. Returns (address, requests, ticks of a task that runs
    meanwhile every 10 ms)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seen = []
    ticks = [0]
    done = [False]
    try:
        srv.bind(socket.getaddrinfo("127.0.0.1", PORT)[0][-1])
        other.bind(socket.getaddrinfo("127.0.0.1", OTHER)[0][-1])
        srv.setblocking(False)

        async def serve():
            while not done[0]:
                try:
                    req, peer = srv.recvfrom(512)
                except OSError:
                    await asyncio.sleep(0.005)
                    continue
                for elsewhere, d in answers(req, len(seen)):
                    (other if elsewhere else srv).sendto(d, peer)
                seen.append(req)

        async def tick():
            while not done[0]:
                ticks[0] += 1
                await asyncio.sleep(0.01)

        async def main():
            tasks = [asyncio.create_task(serve()), asyncio.create_task(tick())]
            try:
                return await dns.resolve(name, ("127.0.0.1", PORT), timeout_ms, tries)
            finally:
                done[0] = True
                await asyncio.gather(*tasks)

        return asyncio.run(main()), seen, ticks[0]
    finally:
        srv.close()
        other.close()


def test_resolve_a_plain_answer_and_a_cname_chain():
    ip, seen, _ = _resolve(NAME, lambda req, i: [(False, _a(req))])
    assert ip == "10.0.0.1" and len(seen) == 1 and bytes(seen[0][12:]) == QUESTION
    assert seen[0][2] == 0x01  # recursion desired
    ip, _, _ = _resolve(NAME, lambda req, i: [(False, _chain(req))])
    assert ip == "1.2.3.4"


def test_resolve_ends_at_once_on_nxdomain_or_no_address():
    ip, seen, _ = _resolve(NAME, lambda req, i: [(False, _reply(req, rcode=3))], 200, 3)
    assert ip is None and len(seen) == 1
    aaaa = [_rr(_ptr(12), 28, bytes(16))]
    ip, seen, _ = _resolve(NAME, lambda req, i: [(False, _reply(req, aaaa))], 200, 3)
    assert ip is None and len(seen) == 1


def test_resolve_retries_after_a_server_failure():
    ip, seen, _ = _resolve(NAME, lambda req, i: [(False, _reply(req, rcode=2) if i == 0
                                                  else _a(req))])
    assert ip == "10.0.0.1" and len(seen) == 2 and seen[0] == seen[1]


def test_resolve_ignores_wrong_ids_questions_and_senders():
    def answers(req, i):
        qid = (req[0] << 8 | req[1]) ^ 1
        return [(False, _reply(req, [_rr(_ptr(12), 1, b"\x09\x09\x09\x09")], qid=qid)),
                (False, _reply(b"\x00\x00" * 6 + QUESTION.replace(b"www", b"wwx"),
                               [_rr(_ptr(12), 1, b"\x09\x09\x09\x09")], qid=qid ^ 1)),
                (True, _a(req, (9, 9, 9, 9))),
                (False, _a(req, (10, 0, 0, 2)))]

    ip, seen, _ = _resolve(NAME, answers)
    assert ip == "10.0.0.2" and len(seen) == 1


def test_resolve_gives_up_after_silence_without_stalling_the_loop():
    ip, seen, ticks = _resolve(NAME, lambda req, i: [], 150, 2)
    assert ip is None and len(seen) == 2 and seen[0] == seen[1]  # the same query resent
    assert ticks >= 15, ticks  # about 30 in the 300 ms


def test_resolve_literals_and_socket_errors():
    nowhere = ("0.0.0.0", 0)  # sendto() fails at once on CPython and on the unix port
    assert asyncio.run(dns.resolve("192.168.1.20", nowhere)) == "192.168.1.20"
    assert asyncio.run(dns.resolve("localhost", nowhere)) == "127.0.0.1"
    for name in ("example.com", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "a..b"):
        assert asyncio.run(dns.resolve(name, nowhere, 100)) is None, name
