"""The probe-and-read sequences of the clients our users run, replayed from their source
against the real firmware (issue 14): each accepts its template and reads the right values.

- Victron dbus-modbus-client, carlo_gavazzi.py, probe.py and device.py (pack_list) at
  victronenergy/dbus-modbus-client@fe12d8c9c30fab4310e16c10bbec0ced4ca9926f.
- The community SDM630 driver for it: M-o-a-T/victron-meter-library, Eastron_SDM630v2.py
  @88ac9375412aba084725cc65142486cf81e21b1e (default access "input": Eastron_device.py
  @011704af944a7ebfc768adb25318b242fe2b3798).
- openWB: openWB/core packages/modules/common/sdm.py (Sdm630_72)
  @3039a21010759129b7dd182df0e7e183fed28baa.
- Victron's PRO380 community driver (Holger Steinhaus): model 0x2007 at 0x1010, serial at
  0x4000.
- The EMpro exporter: Bouni/empro_exporter registers.py and empro.py
  @c123466fd5f1d65db7f2176eeec142621f05e670 (one FC03 read per register; text decoded with
  each register's bytes swapped, 32-bit values low word first).
"""
import struct

from pymodbus.client import ModbusTcpClient
from pymodbus.framer import FramerType

from modbus.registers import serial_number
from simfw import Sim, metersim
from support import corpus, parse_one


def client(sim):
    c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port)
    assert c.connect()
    return c


def feed(sim, c, name):
    """Replay one corpus telegram; returns its reading once the firmware serves it."""
    r = parse_one(name)
    sim.meter(metersim.split(corpus(name)), interval=0.5)
    sim.status_when(lambda st: st["meter"]["valid"] >= 1)
    return r


def rd(c, access, base, count):
    fn = c.read_holding_registers if access == "holding" else c.read_input_registers
    rr = fn(base, count=count, device_id=1)
    assert not rr.isError(), (hex(base), rr)
    return rr.registers


def pack_list(regs, hole_max=31):
    """device.py's pack_list: (base, count) sorted into reads of at most 125 registers with
    holes of at most hole_max ((modbus_overhead('tcp') + 1) // 2 = 31)."""
    regs = sorted(regs)
    groups = [[regs.pop(0)]]
    for r in regs:
        end = groups[-1][-1][0] + groups[-1][-1][1]
        if r[0] + r[1] - groups[-1][0][0] > 125 or r[0] - end > hole_max:
            groups.append([])
        groups[-1].append(r)
    return groups


def read_data(c, access, regs):
    """read_data_regs: one read per packed group; base -> its registers."""
    out = {}
    for g in pack_list(list(regs)):
        start = g[0][0]
        words = rd(c, access, start, g[-1][0] + g[-1][1] - start)
        for base, count in g:
            out[base] = words[base - start:base - start + count]
    return out


def s32l(w):
    return struct.unpack("<i", struct.pack("<2H", *w))[0]


def f32b(w):
    return struct.unpack(">f", struct.pack(">2H", *w))[0]


def near(a, b, rel=1e-6):
    return abs(a - b) <= rel * max(1.0, abs(b))


def victron_em24(c):
    """carlo_gavazzi.py: probe, application H, info, data; returns the dbus paths."""
    assert rd(c, "holding", 0x000B, 1)[0] in range(1648, 1654)  # ModelRegister, units [1]
    if rd(c, "holding", 0xA000, 1)[0] != 7:
        assert not c.write_register(0xA000, 7, device_id=1).isError()
        assert rd(c, "holding", 0xA000, 1)[0] == 7, "failed to set application to H"
    v = rd(c, "holding", 0x0302, 1)[0]
    info = {"/HardwareVersion": "%d.%d.%d" % (v >> 12, v >> 8 & 0xF, v & 0xFF)}
    v = rd(c, "holding", 0x0304, 1)[0]
    info["/FirmwareVersion"] = "%d.%d.%d" % (v >> 12, v >> 8 & 0xF, v & 0xFF)
    info["/PhaseConfig"] = rd(c, "holding", 0x1002, 1)[0]
    info["/Serial"] = struct.pack(">7H", *rd(c, "holding", 0x5000, 7)).rstrip(b"\0").decode()
    phases = [3, 3, 2, 1, 3][info["/PhaseConfig"]]
    regs = {0x0028: ("/Ac/Power", 10), 0x0033: ("/Ac/Frequency", 10),
            0x0034: ("/Ac/Energy/Forward", 10), 0x004E: ("/Ac/Energy/Reverse", 10),
            0xA100: ("/SwitchPos", 1)}
    if phases == 3:
        regs[0x0032] = ("/PhaseSequence", 1)
    for n in range(1, phases + 1):
        s = 2 * (n - 1)
        regs[0x0000 + s] = ("/Ac/L%d/Voltage" % n, 10)
        regs[0x000C + s] = ("/Ac/L%d/Current" % n, 1000)
        regs[0x0012 + s] = ("/Ac/L%d/Power" % n, 10)
        regs[0x0040 + s] = ("/Ac/L%d/Energy/Forward" % n, 10)
    u16 = (0x0033, 0xA100, 0x0032)
    words = read_data(c, "holding", [(b, 1 if b in u16 else 2) for b in regs])
    d = dict(info)
    for base, (path, scale) in regs.items():
        w = words[base]
        d[path] = (w[0] if base in u16 else s32l(w)) / scale
    return d


def test_victron_gx_detects_the_em24_and_reads_it(tmp_path):
    with Sim(tmp_path, {"MeterType": "CarloGavazzi-EM24"}) as sim:
        c = client(sim)
        r = feed(sim, c, "dsmr/v5_eon_hu.txt")
        # An installer's tool left application A: the driver writes H (7) and reads it back.
        assert not c.write_register(0xA000, 0, device_id=1).isError()
        d = victron_em24(c)
        assert rd(c, "holding", 0xA000, 1) == [7]
        assert d["/HardwareVersion"] == "1.0.0" and d["/FirmwareVersion"] == "0.4.0"
        assert d["/Serial"] == sim.status()["device"]["serial"] and d["/PhaseConfig"] == 0
        assert d["/Ac/Power"] == -2601.0 and d["/Ac/Frequency"] == 50.0
        assert d["/Ac/Energy/Forward"] == round(r["energy_import_kwh"], 1)
        assert d["/Ac/Energy/Reverse"] == round(r["energy_export_kwh"], 1)
        assert d["/Ac/L2/Voltage"] == 239.1 and d["/Ac/L2/Current"] == -4.0
        assert d["/SwitchPos"] == 3 and d["/PhaseSequence"] == 0
        # No per-phase power in this telegram: the phases still add up to the total.
        assert abs(d["/Ac/L1/Power"] + d["/Ac/L2/Power"] + d["/Ac/L3/Power"] + 2601) < 0.2
        assert all(d["/Ac/L%d/Power" % n] < 0 for n in (1, 2, 3))
        # Outside its range the register is refused, as the real meter does.
        rr = c.write_register(0xA000, 9, device_id=1)
        assert rr.isError() and rr.exception_code == 3
        # The same write in RTU framing on the same port (behind an Ethernet-RS485 adapter).
        rtu = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, framer=FramerType.RTU)
        assert not rtu.write_register(0xA000, 0, device_id=1).isError()
        assert rd(c, "holding", 0xA000, 1) == [0]
        rtu.close()
        assert sim.status()["modbus"]["unmapped_reads"] == 0
        c.close()


def test_community_sdm630_driver_and_openwb(tmp_path):
    with Sim(tmp_path, {"MeterType": "Eastron-SDM630"}) as sim:
        c = client(sim)
        r = feed(sim, c, "dsmr/v5_eon_hu.txt")
        # victron-meter-library: probe 0xFC02 (input), then the info registers one by one.
        assert rd(c, "input", 0xFC02, 1)[0] in (112, 121)
        info = {"/HardwareVersion": rd(c, "input", 0xFC02, 1)[0],
                "/FirmwareVersion": rd(c, "input", 0xFC03, 1)[0],
                "/PhaseConfig": f32b(rd(c, "input", 0x000A, 2)),
                "/Serial": struct.unpack(">I", struct.pack(">2H", *rd(c, "input", 0x0014, 2)))}
        assert info["/HardwareVersion"] == 112 and info["/FirmwareVersion"] == 0x0400
        # The driver takes its phase configuration from input 0x000A, which on the real
        # meter (and here) is the current of L3: -3 A picks nr_phases[-3] = 1 phase.
        phases = [0, 1, 3, 3][int(info["/PhaseConfig"])]
        assert phases == 1
        regs = [0x0034, 0x0030, 0x0046, 0x0048, 0x004A]
        for n in range(1, phases + 1):
            s = 2 * (n - 1)
            regs += [0x0000 + s, 0x0006 + s, 0x000C + s, 0x015A + s, 0x0160 + s]
        w = {b: f32b(v) for b, v in read_data(c, "input", [(b, 2) for b in regs]).items()}
        assert w[0x0034] == -2601.0 and w[0x0046] == 50.0 and w[0x0030] == 10.0
        assert near(w[0x0048], r["energy_import_kwh"]) and near(w[0x004A], r["energy_export_kwh"])
        assert near(w[0x0000], 240.4) and w[0x0006] == -3.0 and w[0x000C] < 0

        # openWB's Sdm630_72: serial (FC03 0xFC00), then three bulk reads (FC04); it
        # computes the total as the sum of the phase powers.
        serial = struct.unpack(">I", struct.pack(">2H", *rd(c, "holding", 0xFC00, 2)))[0]
        assert serial == serial_number(sim.status()["device"]["serial"]) != 0
        bulk1 = rd(c, "input", 0x0000, 18)
        pf = rd(c, "input", 0x001E, 6)
        bulk2 = rd(c, "input", 0x0046, 6)
        powers = [f32b(bulk1[12 + 2 * n:14 + 2 * n]) for n in range(3)]
        assert near(sum(powers), -2601.0)
        assert [f32b(pf[2 * n:2 * n + 2]) for n in range(3)] == [1.0, 1.0, 1.0]
        assert f32b(bulk2[0:2]) == 50.0
        assert [f32b(bulk1[2 * n:2 * n + 2]) for n in range(3)] == [
            struct.unpack(">f", struct.pack(">f", v))[0] for v in (240.4, 239.1, 241.2)]
        assert sim.status()["modbus"]["unmapped_reads"] == 0
        c.close()


def empro_text(words):
    """empro.py's ASCII: each register's bytes swapped, up to the first NUL."""
    return struct.pack("<%dH" % len(words), *words).split(b"\0")[0].decode()


def test_identification_of_every_template_and_a_wrong_template_is_named(tmp_path, ca):
    # The EMpro, on a device with a MAC serial: as an EEM-MA370 answers the exporter.
    ca.provision(tmp_path / "empro", "24DCC3A1B2C4")
    with Sim(tmp_path / "empro", {"MeterType": "PhoenixContact-EMPro"}) as sim:
        c = client(sim)
        assert empro_text(rd(c, "holding", 300, 8)) == "EEM-MA370"  # before any telegram
        feed(sim, c, "dsmr/v5.txt")
        assert empro_text(rd(c, "holding", 308, 8)) == "2907983"
        assert empro_text(rd(c, "holding", 316, 9)) == "3282154180"
        lo, hi = rd(c, "holding", 342, 2)
        assert hi << 16 | lo == serial_number("24DCC3A1B2C4") == 3282154180
        assert rd(c, "input", 300, 5) == [0x4545, 0x2D4D, 0x414D, 0x3733, 0x0030]
        assert sim.status()["modbus"]["unmapped_reads"] == 0
        c.close()
    with Sim(tmp_path / "pro380", {"MeterType": "Inepro-PRO380"}) as sim:
        c = client(sim)
        feed(sim, c, "dsmr/v5.txt")
        assert rd(c, "holding", 0x1010, 1) == [0x2007]
        serial = serial_number(sim.status()["device"]["serial"])
        assert rd(c, "holding", 0x4000, 2) == [serial >> 16, serial & 0xFFFF]
        assert f32b(rd(c, "holding", 0x4009, 2)) == 1.0
        assert near(f32b(rd(c, "holding", 0x4007, 2)), 0.04)
        # A charger set to the EMpro reads where the EMpro keeps its values.
        for _ in range(3):
            rd(c, "holding", 0x8016, 2)
        rd(c, "holding", 0x800E, 6)
        st = sim.status_when(lambda st: st["modbus"]["unmapped_reads"] == 4)
        assert st["modbus"]["unmapped_top"][0] == {"address": 0x8016, "reads": 3}
        c.close()
