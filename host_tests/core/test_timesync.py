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


def _answer(mode=4, stratum=2, secs=3900000000):
    a = bytearray(48)
    a[0] = 0x20 | mode
    a[1] = stratum
    a[40:44] = secs.to_bytes(4, "big")
    return bytes(a)


def test_sntp_parse():
    assert sntp.parse(_answer()) == 3900000000 - sntp.NTP_DELTA
    assert sntp.parse(_answer(secs=100)) == 100 + (1 << 32) - sntp.NTP_DELTA  # era 1
    assert sntp.parse(_answer(mode=3)) is None  # a client request, not an answer
    assert sntp.parse(_answer(stratum=0)) is None  # kiss-o'-death
    assert sntp.parse(_answer(secs=0)) is None
    assert sntp.parse(b"\x24" * 47) is None


def test_sntp_query_against_a_local_server():
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addr = socket.getaddrinfo("127.0.0.1", 15490)[0][-1]
    srv.bind(addr)
    srv.setblocking(False)

    async def serve():
        for _ in range(100):
            try:
                req, peer = srv.recvfrom(48)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            assert req[0] == 0x1B and len(req) == 48
            srv.sendto(_answer(), peer)
            return

    async def main():
        server = asyncio.create_task(serve())
        t = await sntp.query(addr, 1000)
        await server
        return t, await sntp.query(addr, 100)  # nobody answers the second time

    try:
        assert asyncio.run(main()) == (3900000000 - sntp.NTP_DELTA, None)
    finally:
        srv.close()
