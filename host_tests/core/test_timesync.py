"""Wall clock and time sync: network time first, the meter's clock as the fallback."""
import asyncio

from device import timesync
from device.wallclock import WallClock
from meter.latest import Latest
from net import sntp


def test_wall_clock_runs_on_and_prefers_network_time():
    w = WallClock()
    assert not w.valid() and w.now(5000) is None
    w.set(1700000000, 1000, "meter")
    assert w.valid() and w.source == "meter" and w.now(3500) == 1700000002
    w.set(1800000000, 4000, "ntp")
    w.set(1600000000, 5000, "meter")  # ignored: the meter never overrides network time
    assert w.source == "ntp" and w.now(6000) == 1800000002


def _sync(network, reading):
    wall = WallClock()
    latest = Latest(30000, 0)
    if reading is not None:
        latest.update(reading, (), 500)
    set_to = []
    ms = [1000]

    async def network_time():
        return network

    async def main():
        task = asyncio.create_task(timesync.run(wall, network_time, set_to.append, latest,
                                                lambda: ms[0]))
        await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(main())
    return wall, set_to


def test_timesync_takes_network_time_else_the_meters():
    wall, set_to = _sync(1790000000, {"ts": 1700000000})
    assert wall.source == "ntp" and wall.now(1000) == 1790000000 and set_to == [1790000000]
    wall, set_to = _sync(None, {"ts": 1700000000})
    assert wall.source == "meter" and wall.now(1500) == 1700000001 and set_to == [1700000000]
    wall, set_to = _sync(None, {"ts": None})  # a meter without a clock
    assert not wall.valid() and set_to == []


def test_a_socket_error_in_network_time_is_a_failed_sync_not_a_dead_task():
    """No sockets left or the cable pulled: the task retries later and the meter's clock
    stands in; before the fix the OSError ended the task and restarted the device."""
    wall = WallClock()
    latest = Latest(30000, 0)
    latest.update({"ts": 1700000000}, (), 500)
    calls = []

    async def network_time():
        calls.append(1)
        raise OSError(23)  # ENFILE

    async def main():
        task = asyncio.create_task(timesync.run(wall, network_time, lambda t: None, latest,
                                                lambda: 1000))
        await asyncio.sleep(0.1)
        alive = not task.done()
        task.cancel()
        return alive

    assert asyncio.run(main())
    assert calls == [1] and wall.source == "meter"


def _answer(mode=4, stratum=2, secs=3900000000, li=0, version=4, req=None):
    """A server answer; to req (a client request) when given: its transmit timestamp
    echoed as the originate timestamp."""
    a = bytearray(48)
    a[0] = li << 6 | version << 3 | mode
    a[1] = stratum
    if req is not None:
        a[24:32] = req[40:48]
    a[40:44] = secs.to_bytes(4, "big")
    return bytes(a)


def test_sntp_parse():
    assert sntp.parse(_answer()) == 3900000000 - sntp.NTP_DELTA
    assert sntp.parse(_answer(secs=100)) == 100 + (1 << 32) - sntp.NTP_DELTA  # era 1
    assert sntp.parse(_answer(mode=3)) is None  # a client request, not an answer
    assert sntp.parse(_answer(stratum=0)) is None  # kiss-o'-death
    assert sntp.parse(_answer(secs=0)) is None
    assert sntp.parse(b"\x24" * 47) is None


def test_sntp_parse_checks_the_header_and_the_originate_timestamp():
    sent = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    req = bytes(40) + sent
    good = 3900000000 - sntp.NTP_DELTA
    assert sntp.parse(_answer(req=req), sent) == good
    assert sntp.parse(_answer(version=3, req=req), sent) == good
    assert sntp.parse(_answer(req=req)) == good  # originate not checked
    assert sntp.parse(_answer(), sent) is None  # originate not echoed
    assert sntp.parse(_answer(req=bytes(48)), sent) is None
    assert sntp.parse(_answer(li=3, req=req), sent) is None  # server not synchronised
    assert sntp.parse(_answer(li=1, req=req), sent) == good  # a leap second announced
    assert sntp.parse(_answer(mode=5, req=req), sent) is None  # broadcast
    assert sntp.parse(_answer(version=2, req=req), sent) is None
    assert sntp.parse(_answer(version=5, req=req), sent) is None
    assert sntp.parse(_answer(stratum=16, req=req), sent) is None


def test_sntp_socket_errors_give_none():
    import socket
    # sendto() fails at once (EINVAL) on CPython and on the unix port alike
    addr = socket.getaddrinfo("0.0.0.0", 0)[0][-1]
    assert asyncio.run(sntp.query(addr, 100)) is None


def _exchange(answers, timeout_ms=1000):
    """query() against a local server that answers the request req with answers(req): a
    list of (from_elsewhere, datagram), sent in order, from the server's address or from
    another port of the same host. Returns what query() gives."""
    import socket
    addr = socket.getaddrinfo("127.0.0.1", 15490)[0][-1]
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        srv.bind(addr)
        other.bind(socket.getaddrinfo("127.0.0.1", 15493)[0][-1])
        srv.setblocking(False)

        async def serve():
            for _ in range(100):
                try:
                    req, peer = srv.recvfrom(48)
                except OSError:
                    await asyncio.sleep(0.01)
                    continue
                for elsewhere, d in answers(req):
                    (other if elsewhere else srv).sendto(d, peer)
                return

        async def main():
            server = asyncio.create_task(serve())
            t = await sntp.query(addr, timeout_ms)
            await server
            return t

        return asyncio.run(main())
    finally:
        srv.close()
        other.close()


GOOD = 3900000000 - sntp.NTP_DELTA


def test_sntp_query_against_a_local_server():
    assert _exchange(lambda req: [(False, _answer(req=req))]) == GOOD
    assert _exchange(lambda req: [], 100) is None  # nobody answers


def test_sntp_query_ignores_an_unsynchronised_server_and_waits_on():
    assert _exchange(lambda req: [(False, _answer(li=3, secs=3800000000, req=req)),
                                  (False, _answer(req=req))]) == GOOD
    assert _exchange(lambda req: [(False, _answer(li=3, req=req))], 200) is None


def test_sntp_query_ignores_a_wrong_originate_then_takes_the_good_answer():
    assert _exchange(lambda req: [(False, _answer(secs=3800000000)),
                                  (False, _answer(secs=3800000000, req=bytes(48))),
                                  (False, _answer(req=req))]) == GOOD


def test_sntp_query_ignores_answers_from_another_address():
    assert _exchange(lambda req: [(True, _answer(secs=3800000000, req=req)),
                                  (False, _answer(req=req))]) == GOOD
    assert _exchange(lambda req: [(True, _answer(req=req))], 200) is None
