"""Modbus PDU answers and the asyncio TCP server, on both interpreters."""
import asyncio
import struct

import modbus.pdu
from meter.latest import Latest
from modbus import registers
from modbus.tcp import ModbusServer
from support import parse_one

PORT = 15402


def _answer(pdu, image=(), fresh=True, write=None):
    out = bytearray(300)
    n = modbus.pdu.answer(pdu, 0, len(pdu), image, fresh, out, 0, write)
    return bytes(out[:n])


def test_fc03_and_fc04_read_the_same_registers():
    img = registers.build_image(parse_one("dsmr/v5.txt"))
    a = _answer(b"\x03\x80\x16\x00\x02", img)
    assert a == _answer(b"\x04\x80\x16\x00\x02", img)[:0] + b"\x03" + a[1:]
    assert a[:2] == b"\x03\x04"
    assert struct.unpack(">f", a[4:6] + a[2:4])[0] == 244.0


def test_exceptions():
    assert _answer(b"\x06\x00\x01\x00\x01") == b"\x86\x01"
    assert _answer(b"\x2b\x0e\x01\x00") == b"\xab\x01"
    assert _answer(b"\x03\x00\x00\x00\x00") == b"\x83\x03"
    assert _answer(b"\x03\x00\x00\x00\x7e") == b"\x83\x03"
    assert _answer(b"\x03\x00\x00\x00") == b"\x83\x03"  # too short
    assert _answer(b"\x04\xff\xff\x00\x02") == b"\x84\x02"  # past 0xFFFF
    assert _answer(b"\x04\x80\x16\x00\x02", fresh=False) == b"\x84\x0b"


def test_fc06_goes_to_the_transports_writer():
    seen = []

    def write(addr, value):
        seen.append((addr, value))
        return 0 if addr == 0x10 else 2

    assert _answer(b"\x06\x00\x10\x01\x02", write=write) == b"\x06\x00\x10\x01\x02"
    assert _answer(b"\x06\x00\x11\x00\x01", write=write) == b"\x86\x02"
    assert _answer(b"\x06\x00\x10\x01", write=write) == b"\x86\x03"  # too short
    assert seen == [(0x10, 0x102), (0x11, 1)]


def test_reads_inside_the_address_space_never_fail():
    assert _answer(b"\x03\x00\x00\x00\x7d") == b"\x03\xfa" + bytes(250)
    assert _answer(b"\x04\xff\xff\x00\x01") == b"\x04\x02\x00\x00"


def test_latest_latches_staleness_until_the_next_telegram():
    lt = Latest(30000, 1000)
    assert lt.fresh(30999) and lt.image == ()
    assert not lt.fresh(31000)
    assert not lt.fresh(1000)  # latched
    lt.update({}, (), 40000)
    assert lt.fresh(69999) and not lt.fresh(70000)


async def _waiters():
    lt = Latest(30000, 0)
    woken = []

    async def consumer(k):
        await lt.wait()
        woken.append((k, lt.count))

    tasks = [asyncio.create_task(consumer(k)) for k in range(3)]
    await asyncio.sleep(0)
    assert woken == []
    lt.update({"power_w": 1}, (), 5)
    await asyncio.gather(*tasks)
    assert sorted(woken) == [(0, 1), (1, 1), (2, 1)]
    # The event was cleared: a new wait blocks until the next telegram.
    late = asyncio.create_task(lt.wait())
    await asyncio.sleep(0.01)
    assert not late.done()
    lt.update({}, (), 6)
    await late


def test_consumers_wait_for_the_next_telegram():
    asyncio.run(_waiters())


def _frame(tid, unit, pdu):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


async def _exchange(port, chunks, expect):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for c in chunks:
        writer.write(c)
        await writer.drain()
        await asyncio.sleep(0.01)
    got = await reader.readexactly(expect)
    writer.close()
    await writer.wait_closed()
    return got


async def _server_session():
    img = registers.build_image(parse_one("dsmr/v5.txt"))
    lt = Latest(30000, 0)
    lt.update({}, img, 0)
    srv = ModbusServer(lt, lambda: 1, idle_s=5)
    await srv.start(PORT, "127.0.0.1")
    req = _frame(7, 0, b"\x03\x80\x16\x00\x02")
    one = await _exchange(PORT, [req], 13)
    assert one[:9] == b"\x00\x07\x00\x00\x00\x07\x00\x03\x04"
    # Byte by byte, then three frames in one write with different unit ids.
    assert await _exchange(PORT, [req[i:i + 1] for i in range(len(req))], 13) == one
    three = _frame(1, 1, b"\x04\x80\x16\x00\x02") + _frame(2, 247, b"\x03\x80\x16\x00\x02") + \
        _frame(3, 9, b"\x10\x00\x00\x00\x01\x02\x00\x00")
    got = await _exchange(PORT, [three[:20], three[20:]], 13 + 13 + 9)
    assert got[6:] .startswith(b"\x01\x04\x04") and got[13:17] == b"\x00\x02\x00\x00"
    assert got[19:26] == b"\xf7\x03\x04" + one[9:13]
    assert got[26:] == b"\x00\x03\x00\x00\x00\x03\x09\x90\x01"
    # Connections share the server's read buffer: a frame half arrived on one is kept
    # while another's whole frame is answered.
    ra, wa = await asyncio.open_connection("127.0.0.1", PORT)
    wa.write(req[:5])
    await wa.drain()
    await asyncio.sleep(0.05)
    assert await _exchange(PORT, [_frame(8, 0, b"\x03\x80\x16\x00\x02")], 13) == \
        b"\x00\x08" + one[2:]
    wa.write(req[5:])
    await wa.drain()
    assert await ra.readexactly(13) == one
    wa.close()
    await wa.wait_closed()
    # A lying length closes that connection only.
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(b"\x00\x01\x00\x00\x01\x00\x01\x03")
    await writer.drain()
    assert await reader.read(10) == b""
    writer.close()
    await writer.wait_closed()
    assert await _exchange(PORT, [req], 13) == one
    assert srv.garbage == 1 and srv.requests == 8 and srv.exceptions == 1
    srv.server.close()
    await srv.server.wait_closed()


def test_server_handles_partial_and_pipelined_frames():
    asyncio.run(_server_session())
