"""Modbus RTU on both interpreters: framing, the RS485 slave's frame handling and its
configuration register block, the P1MB LEDs, and RTU framing on the TCP port."""
import asyncio
import struct

from device import config, schema
from device.leds import BusLeds
from meter.latest import Latest
from modbus import registers, rtu, slave
from modbus.rtuconfig import BASE, REBOOT
from modbus.slave import RtuSlave
from modbus.tcp import ModbusServer, _framing

PORT = 15403
# A reading as the decoder makes it (parsing one here would cost the unix port's test heap
# a framer).
READING = {"power_w": 244.0, "voltage_l1_v": 230.5, "current_l1_a": 1.5,
           "energy_import_kwh": 1234.5, "energy_export_kwh": None}


def _seal(b):
    out = bytearray(len(b) + 2)
    out[:len(b)] = b
    rtu.seal(out, len(b))
    return bytes(out)


def test_crc_of_a_known_frame_and_lengths():
    # The Modbus specification's example: read 2 holding registers of slave 1 at 0.
    assert _seal(b"\x01\x03\x00\x00\x00\x02") == b"\x01\x03\x00\x00\x00\x02\xc4\x0b"
    f = b"\x01\x03\x00\x00\x00\x02\xc4\x0b"
    assert rtu.crc_ok(f, 0, 8) and not rtu.crc_ok(f[:7] + b"\x0c", 0, 8)
    assert not rtu.crc_ok(f, 0, 3)
    assert rtu.request_length(f, 0, 1) == 0 and rtu.request_length(f, 0, 8) == 8
    assert rtu.request_length(b"\x01\x10\x00\x00\x00\x02\x04", 0, 7) == 13
    assert rtu.request_length(b"\x01\x10\x00\x00", 0, 4) == 0
    assert rtu.request_length(b"\x01\x2b\x0e", 0, 3) == -1


def test_silence_and_uart_line():
    assert slave.silence_us(9600, "E") == 4010 and slave.silence_us(9600, "N") == 3645
    assert slave.silence_us(1200, "N") == 29166 and slave.silence_us(115200, "E") == 1750
    assert slave.uart_line(9600, "E") == (9600, 8, 0, 1)  # 8E1: machine.UART's parity 0
    assert slave.uart_line(115200, "N") == (115200, 8, None, 1)
    assert slave.uart_line(19200, "O") == (19200, 8, 1, 1)


def _slave(cfg=None):
    cfg = cfg or config.merge({})[0]
    lt = Latest(30000, 0)
    lt.update({}, registers.build_image(READING, cfg["MeterType"]), 0)
    return RtuSlave(None, lt, lambda: 1, lambda: cfg, None)


def _ask(s, frame):
    buf = bytearray(slave.MAX_FRAME)
    buf[:len(frame)] = frame
    m = s.handle(buf, len(frame))
    return bytes(s._out[:m])


def test_slave_answers_its_address_and_ignores_the_rest():
    s = _slave()
    assert s.address == 16 and s.baud == 9600 and s.parity == "E"  # the P1MB's defaults
    a = _ask(s, _seal(b"\x10\x03\x80\x16\x00\x02"))
    assert a[:3] == b"\x10\x03\x04" and rtu.crc_ok(a, 0, len(a))
    assert struct.unpack(">f", a[5:7] + a[3:5])[0] == 244.0  # EMPro: CDAB
    assert _ask(s, _seal(b"\x10\x04\x80\x16\x00\x02"))[1:-2] == b"\x04" + a[2:-2]
    assert _ask(s, _seal(b"\x11\x03\x80\x16\x00\x02")) == b""  # another slave's
    bad = bytearray(_seal(b"\x10\x03\x80\x16\x00\x02"))
    bad[3] ^= 1
    assert _ask(s, bad) == b"" and _ask(s, b"\x10") == b""
    assert _ask(s, _seal(b"\x10\x2b\x0e\x01\x00")) == _seal(b"\x10\xab\x01")
    assert _ask(s, _seal(b"\x10\x06\x80\x16\x00\x01")) == _seal(b"\x10\x86\x02")
    st = s.status()
    assert (st["frames"], st["requests"], st["crc_errors"], st["other_addresses"],
            st["exceptions"]) == (7, 4, 2, 1, 2)
    assert st["uart"] == [9600, 8, 0, 1]


def test_configuration_block_reads_writes_and_refuses():
    s = _slave()
    read = _seal(b"\x10\x03\xe0\x00\x00\x06")
    assert _ask(s, read) == _seal(b"\x10\x03\x0c" + struct.pack(">6H", 16, 96, 2, 0, 30, 0))
    for reg, value in ((0, 0), (0, 248), (1, 97), (1, 0), (2, 3), (3, 99), (4, 0),
                       (4, 3601)):
        w = _seal(b"\x10\x06" + struct.pack(">HH", BASE + reg, value))
        assert _ask(s, w) == _seal(b"\x10\x86\x03"), (reg, value)
    assert _ask(s, _seal(b"\x10\x06\xe0\x06\x00\x01")) == _seal(b"\x10\x86\x02")
    assert _ask(s, _seal(b"\x10\x06\xe0\x05\x00\x02")) == _seal(b"\x10\x86\x03")
    assert s.block.changes == {} and not s.block.reboot  # nothing changed
    for reg, value in ((0, 5), (1, 1152), (2, 0), (3, 1), (4, 60)):
        w = _seal(b"\x10\x06" + struct.pack(">HH", BASE + reg, value))
        assert _ask(s, w) == w  # the echo
    assert _ask(s, read) == _seal(b"\x10\x03\x0c" + struct.pack(">6H", 5, 1152, 0, 1, 60, 0))
    assert s.address == 16 and not s.block.reboot  # applies at the restart only
    # A broadcast write is applied without an answer; the reboot register restarts.
    assert _ask(s, _seal(b"\x00\x06" + struct.pack(">HH", REBOOT, 1))) == b""
    assert s.block.reboot and s.broadcasts == 1
    new = schema.patch(config.merge({})[0], s.block.changes)[0]
    assert new["RS485"] == {"Address": 5, "Baud": 115200, "Parity": "N"}
    assert new["MeterType"] == "Eastron-SDM630" and new["Modbus"]["StaleAfter"] == 60
    # A broadcast read gets no answer either.
    assert _ask(s, _seal(b"\x00\x03\x80\x16\x00\x02")) == b""


def test_the_configuration_schema_checks_the_rs485_section():
    cfg, errors = config.merge({"RS485": {"Address": 0, "Baud": 9600.0, "Parity": "X"}})
    assert cfg["RS485"] == {"Address": 16, "Baud": 9600, "Parity": "E"}
    assert errors == ["RS485.Address: must be 1..247",
                      "RS485.Baud: must be one of 1200, 2400, 4800, 9600, 19200, 38400, "
                      "57600, 115200", "RS485.Parity: must be one of N, E, O"]


def test_leds_follow_the_meter_and_the_bus():
    leds = BusLeds()
    assert leds.update(0, False, 0, 0) == (True, False, False)
    assert leds.update(1000, True, 0, 0) == (True, True, False)
    assert leds.update(1010, True, 0, 1) == (True, True, True)  # a request
    assert leds.update(1200, True, 0, 1) == (True, True, False)
    # A refused telegram: P1 blinks for 5 s, then follows the values again.
    seen = [leds.update(t, True, 1, 1)[1] for t in range(2000, 7000, 125)]
    assert seen[:4] == [True, True, False, False] and seen.count(False) == 20
    assert leds.update(7000, True, 1, 1) == (True, True, False)
    assert leds.update(7100, False, 1, 1) == (True, False, False)


def test_a_connection_is_rtu_when_its_first_frame_carries_a_valid_crc():
    rtu_read = _seal(b"\x01\x03\x00\x00\x00\x02")  # also a complete MBAP frame
    assert _framing(rtu_read, 8) == 2
    assert _framing(rtu_read, 7) is None
    mbap = struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0, 2)
    assert _framing(mbap, 8) is None and _framing(mbap, 12) == 1
    # The first frames of MBAP clients (transaction ids from 0, usual unit ids) are never
    # taken for RTU.
    for tid in range(64):
        for unit in (0, 1, 2, 16, 100, 247, 255):
            for fc in (3, 4, 6, 16):
                f = struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, 0, 2)
                assert _framing(f, 12) == 1, (tid, unit, fc)
    assert _framing(b"\x00\x01\x00\x00\x01\x00\x01\x03", 8) == 1  # garbage: MBAP refuses it


async def _exchange(frames, expect):
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    got = b""
    for f in frames:
        writer.write(f)
        await writer.drain()
        await asyncio.sleep(0.01)
    while len(got) < expect:
        data = await reader.read(expect - len(got))
        if not data:
            break
        got += data
    writer.close()
    await writer.wait_closed()
    return got


async def _rtu_over_tcp():
    img = registers.build_image(READING, "Eastron-SDM630")
    lt = Latest(30000, 0)
    lt.update({}, img, 0)
    srv = ModbusServer(lt, lambda: 1, idle_s=5)
    await srv.start(PORT, "127.0.0.1")
    req = _seal(b"\x01\x04\x00\x34\x00\x02")
    one = await _exchange([req], 9)
    assert one[:3] == b"\x01\x04\x04" and rtu.crc_ok(one, 0, 9)
    # Byte by byte, then pipelined with an FC03 and an unknown function.
    assert await _exchange([req[i:i + 1] for i in range(8)], 9) == one
    three = req + _seal(b"\x07\x03\x00\x34\x00\x02") + _seal(b"\x01\x2b\x0e\x01\x00")
    got = await _exchange([three[:11], three[11:16], three[16:]], 9 + 9 + 5)
    assert got[:9] == one and got[9:12] == b"\x07\x03\x04" and got[12:16] == one[3:7]
    assert got[18:] == _seal(b"\x01\xab\x01")
    # A wrong CRC after the first frame closes that connection only.
    bad = bytearray(req)
    bad[7] ^= 0xFF
    assert await _exchange([req, bytes(bad)], 20) == one
    assert srv.garbage == 1 and srv.requests == 6 and srv.exceptions == 1
    srv.server.close()
    await srv.server.wait_closed()


def test_rtu_framing_on_the_tcp_port():
    asyncio.run(_rtu_over_tcp())


def test_values_written_over_rs485_keep_what_the_api_changed_meanwhile():
    cfg = [config.merge({})[0]]
    lt = Latest(30000, 0)
    s = RtuSlave(None, lt, lambda: 1, lambda: cfg[0], None)
    w = _seal(b"\x10\x06\xe0\x00\x00\x05")
    assert _ask(s, w) == w
    cfg[0] = schema.patch(cfg[0], {"MQTT": {"Site": "home"}})[0]  # a PATCH meanwhile
    new = schema.patch(cfg[0], s.block.changes)[0]
    assert new["RS485"]["Address"] == 5 and new["MQTT"]["Site"] == "home"
