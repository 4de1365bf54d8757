"""The raw stream / P1 out fan-out, on both interpreters."""
import asyncio

from net.fanout import Fanout

PORT = 15488


async def _read_to_end(reader):
    while await reader.read(4096):
        pass


async def _session():
    fan = Fanout(max_readers=3, size=64)
    await fan.start(PORT, "127.0.0.1")
    conns = []
    for _ in range(4):
        conns.append(await asyncio.open_connection("127.0.0.1", PORT))
        await asyncio.sleep(0.02)
    assert fan.readers == 3 and fan.refused == 1
    assert await conns[3][0].read(10) == b""  # the fourth reader was refused
    sent = b""
    for i in range(20):
        chunk = bytes([i]) * (i + 1)
        fan.publish(memoryview(chunk))
        sent += chunk
        await asyncio.sleep(0.005)
    conns[2][1].write(b"the stream is read-only: this is discarded")
    await asyncio.sleep(0.05)
    for r, _ in conns[:3]:
        assert await r.readexactly(len(sent)) == sent
    # A burst no socket can take (nobody reads while it comes): each backlog passes the
    # buffer's size, and every reader is dropped, the meter loop never waiting.
    chunk = bytes(4096)
    for _ in range(4096):
        fan.publish(chunk)
        if fan.dropped == 3:
            break
    assert fan.dropped == 3
    for r, _ in conns[:3]:
        await _read_to_end(r)  # closed by the fan-out
    assert fan.readers == 0
    for _, w in conns:
        w.close()
        await w.wait_closed()
    fan.server.close()
    await fan.server.wait_closed()


def test_every_reader_gets_the_same_bytes_and_a_slow_one_is_dropped():
    asyncio.run(_session())
