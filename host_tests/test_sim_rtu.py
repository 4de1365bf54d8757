"""The RS485 Modbus RTU slave on the sim (tools/sim.py --rs485, one end of a socat pty
pair) read by pymodbus's serial client on the other end, and RTU framing on the Modbus
TCP port read the way evcc reads an Eastron meter behind an Ethernet-RS485 adapter.

A pty refuses parity: both ends run 8N1, and the parity setting is checked in the UART
line the ESP32 driver would apply (status rs485.uart)."""
import struct

import serial
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.framer import FramerType
from test_sim_modbus import TEMPLATES, expected, f32

from simfw import Sim, metersim, wait_until
from support import corpus, parse_one

CODES = {"PhoenixContact-EMPro": 0, "Eastron-SDM630": 1, "Inepro-PRO380": 2}
BASE = 0xE000


def crc(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return bytes(data) + struct.pack("<H", c)


def template_values(client, template, unit):
    regmap, cdab, fc = TEMPLATES[template]
    fn = client.read_holding_registers if fc == 3 else client.read_input_registers
    got = {}
    for a in regmap:
        rr = fn(a, count=2, device_id=unit)
        assert not rr.isError(), (template, hex(a), rr)
        got[a] = f32(rr.registers, cdab)
    return got


def read_template(client, template, unit, want):
    """Every register of the template, once the meter's telegram has arrived (until then
    they read 0)."""
    wait_until(lambda: template_values(client, template, unit) == want[template], timeout=20)


def answering(client, unit):
    wait_until(lambda: not client.read_input_registers(0, count=2, device_id=unit).isError(),
               timeout=20)


def restarted(sim, mark):
    wait_until(lambda: any("smart-connect up" in x for x in sim.lines[mark:]), timeout=30)


def configure(client, unit, settings):
    """Write the configuration registers, then the reboot register (the echo comes
    first)."""
    for reg, value in settings:
        rr = client.write_register(BASE + reg, value, device_id=unit)
        assert not rr.isError(), (reg, value, rr)
    assert not client.write_register(BASE + 5, 1, device_id=unit).isError()


def test_every_template_at_the_defaults_and_at_115200_configured_over_rs485(tmp_path,
                                                                            pty_pair):
    device, master = pty_pair
    r = parse_one("dsmr/v5.txt")
    want = {t: {a: expected(r, *m[a]) for a in m} for t, (m, _, _) in TEMPLATES.items()}
    frames = metersim.split(corpus("dsmr/v5.txt"))
    with Sim(tmp_path / "flash", args=["--rs485", device]) as sim:
        sim.meter(frames, interval=0.5)
        st = sim.status_when(lambda s: s["meter"]["fresh"] and s["rs485"])["rs485"]
        assert (st["address"], st["baud"], st["parity"]) == (16, 9600, "E")  # P1MB
        assert st["uart"] == [9600, 8, 0, 1]  # 8E1 on the ESP32's UART
        # Each template at 9600 then at 115200 baud, each change written over RS485
        # under the address in use, then read under the new one after the restart.
        steps = [("PhoenixContact-EMPro", 9600, 16, 2), ("PhoenixContact-EMPro", 115200, 7, 0),
                 ("Eastron-SDM630", 115200, 200, 2), ("Eastron-SDM630", 9600, 1, 0),
                 ("Inepro-PRO380", 9600, 247, 1), ("Inepro-PRO380", 115200, 16, 2)]
        for i, (template, baud, unit, parity) in enumerate(steps):
            client = ModbusSerialClient(master, baudrate=baud, parity="N", timeout=2)
            assert client.connect()
            answering(client, unit)
            regs = client.read_holding_registers(BASE, count=6, device_id=unit).registers
            assert regs == [unit, baud // 100, parity, CODES[template], 30, 0]
            read_template(client, template, unit, want)
            if i + 1 < len(steps):
                nxt = steps[i + 1]
                mark = len(sim.lines)
                configure(client, unit, [(0, nxt[2]), (1, nxt[1] // 100), (2, nxt[3]),
                                         (3, CODES[nxt[0]])])
                restarted(sim, mark)
                sim.meter(frames, interval=0.5)  # the cable reconnects to the new start
            client.close()
        st = sim.status_when(lambda s: s["rs485"]["requests"] > 0)["rs485"]
        assert st["uart"] == [115200, 8, 0, 1] and st["address"] == 16
        assert sim.output().count("sim: firmware rebooting") == len(steps) - 1


def test_wrong_crc_other_addresses_and_broadcast(tmp_path, pty_pair):
    device, master = pty_pair
    # On the device gauge, in a 64 KB heap (docs/memory.md).
    with Sim(tmp_path / "flash", {"RS485": {"Address": 3, "Parity": "N"}}, heap="64k",
             args=["--frozen32", "--rs485", device]) as sim:
        sim.meter(metersim.synthetic(20), interval=0.3)
        sim.status_when(lambda s: s["meter"]["fresh"])
        with serial.Serial(master, 9600, timeout=0.5) as port:
            def ask(frame, expect):
                port.reset_input_buffer()
                port.write(frame)
                return port.read(expect)

            good = crc(b"\x03\x03\x80\x16\x00\x02")
            answer = ask(good, 9)
            assert answer[:3] == b"\x03\x03\x04" and answer == crc(answer[:7])
            bad = bytearray(good)
            bad[2] ^= 0x40
            assert ask(bytes(bad), 9) == b""  # wrong CRC: ignored
            assert ask(crc(b"\x04\x03\x80\x16\x00\x02"), 9) == b""  # another slave's
            assert ask(crc(b"\x00\x03\x80\x16\x00\x02"), 9) == b""  # broadcast read
            # A broadcast write is applied without an answer.
            assert ask(crc(b"\x00\x06\xe0\x04\x00\x2d"), 8) == b""
            regs = ask(crc(b"\x03\x03\xe0\x00\x00\x05"), 15)
            assert regs == crc(b"\x03\x03\x0a" + struct.pack(">5H", 3, 96, 0, 0, 45))
            # An invalid value: exception 03, nothing changed.
            assert ask(crc(b"\x03\x06\xe0\x01\x00\x61"), 5) == crc(b"\x03\x86\x03")
            assert ask(crc(b"\x03\x03\xe0\x00\x00\x05"), 15) == regs
            assert ask(good, 9)[:3] == b"\x03\x03\x04"
        st = sim.status()["rs485"]
        assert (st["crc_errors"], st["other_addresses"], st["broadcasts"]) == (1, 1, 2)
        assert st["uart"] == [9600, 8, None, 1]  # 8N1, as configured


def test_evcc_eastron_over_tcp_with_rtu_framing_beside_mbap_clients(tmp_path):
    """evcc reads its Eastron template through mbmd's SDM producer: the probe (FC04, L1
    voltage), then every quantity as one FC04 read of 2 registers; an RTU-over-TCP
    gateway user also reads blocks with FC03. An MBAP client polls meanwhile."""
    r = parse_one("dsmr/v5.txt")
    regmap, _, _ = TEMPLATES["Eastron-SDM630"]
    want = {a: expected(r, *regmap[a]) for a in regmap}
    with Sim(tmp_path, {"MeterType": "Eastron-SDM630"}) as sim:
        sim.meter(metersim.split(corpus("dsmr/v5.txt")), interval=0.5)
        mbap = ModbusTcpClient("127.0.0.1", port=sim.modbus_port)
        rtu = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, framer=FramerType.RTU)
        assert mbap.connect() and rtu.connect()
        wait_until(lambda: f32(rtu.read_input_registers(0x34, count=2, device_id=1).registers,
                               False) == want[0x34])  # the telegram has arrived
        got = {a: f32(rtu.read_input_registers(a, count=2, device_id=1).registers, False)
               for a in sorted(regmap)}
        assert got == want
        block = rtu.read_holding_registers(0, count=18, device_id=1).registers
        assert [f32(block[k:k + 2], False) for k in range(0, 18, 2)] == [
            want[a] for a in range(0, 18, 2)]
        mb = mbap.read_input_registers(0x0034, count=2, device_id=1).registers
        assert f32(mb, False) == want[0x0034]
        assert rtu.read_input_registers(0x0034, count=2, device_id=1).registers == mb
        mbap.close()
        rtu.close()
        st = sim.status()["modbus"]
        assert st["garbage"] == 0
