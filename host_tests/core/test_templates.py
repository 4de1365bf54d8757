"""Identification registers, self-consistent phase powers, the EM24's writable register and
the count of reads outside the template (issue 14), on CPython and the unix port."""
import struct
import sys

from device import config
from device.version import VERSION
from modbus import pdu, registers, templates
from modbus.templates import TEMPLATES
from support import corpus_names, parse_one


def regs(image, addr, count):
    out = bytearray(2 * count)
    registers.read_into(image, addr, count, out, 0)
    return struct.unpack(">%dH" % count, out)


def f32(image, addr):
    return struct.unpack(">f", struct.pack(">2H", *regs(image, addr, 2)))[0]


def s32l(image, addr, scale):
    lo, hi = regs(image, addr, 2)
    return struct.unpack(">i", struct.pack(">2H", hi, lo))[0] / scale


def test_identification_is_served_before_the_first_telegram():
    registers.use("Eastron-SDM630", "SIM000000001")
    assert regs((), 0xFC02, 1) == (112,)
    assert regs((), 0xFC00, 2) == (0, 1)
    v = [int(x) for x in VERSION.split(".")]
    assert regs((), 0xFC03, 1) == (v[0] << 12 | v[1] << 8 | v[2],)
    registers.use("Inepro-PRO380", "AABBCCDDEEFF")
    assert regs((), 0x1010, 1) == (0x2007,)
    assert regs((), 0x4000, 2) == (0xCCDD, 0xEEFF)
    assert f32((), 0x4009) == 1.0
    registers.use("CarloGavazzi-EM24", "SC0042")
    assert regs((), 0x000B, 1) == (1648,)
    text = struct.pack(">7H", *regs((), 0x5000, 7))
    assert text.rstrip(b"\0") == b"SC0042"
    assert regs((), 0x1002, 1) == (0,) and regs((), 0xA000, 1) == (7,)
    # The EMpro's little-endian words: Phoenix's own example, then the serial both ways.
    registers.use("PhoenixContact-EMPro", "24DCC3A1B2C4")
    assert regs((), 0x012C, 8) == (0x4545, 0x2D4D, 0x414D, 0x3733, 0x0030, 0, 0, 0)
    assert struct.pack("<8H", *regs((), 0x0134, 8)).rstrip(b"\0") == b"2907983"
    assert struct.pack("<9H", *regs((), 0x013C, 9)).rstrip(b"\0") == b"3282154180"
    assert regs((), 0x0156, 2) == (0xB2C4, 0xC3A1)
    assert regs((), 0x0100, 2) == (0, 0) and regs((), 0x015A, 1) == (0,)
    registers.use("PhoenixContact-EMPro", "SIM000000001")


def test_the_configuration_takes_every_template():
    for name in TEMPLATES:
        cfg, errors = config.merge({"MeterType": name})
        assert cfg["MeterType"] == name and errors == []


def test_serial_numbers():
    assert registers.serial_number("SIM000000001") == 1
    assert registers.serial_number("24DCC3A1B2C4") == 0xC3A1B2C4
    assert registers.serial_number("SC0001") == 1
    assert registers.serial_number("") == 0


def test_phase_powers_sum_to_the_total_in_every_template():
    for name in corpus_names("dsmr") + corpus_names("tic"):
        r = parse_one(name)
        own = [r.get("power_l%d_w" % n) for n in (1, 2, 3)]
        p = registers.phase_powers(r)
        if any(own):
            assert list(p) == own, name
        elif r.get("power_w"):
            assert abs(sum(x or 0 for x in p) - r["power_w"]) < 1e-6, name
        img = registers.build_image(r, "Eastron-SDM630")
        if r.get("power_w") and not any(own):
            phases = f32(img, 0x000C) + f32(img, 0x000E) + f32(img, 0x0010)
            assert abs(phases - r["power_w"]) < 0.01, name
    registers.use("PhoenixContact-EMPro")


def test_the_phase_rule():
    # No per-phase power, signed currents and voltages: shared by V x I, summing to the total.
    r = parse_one("dsmr/v5_eon_hu.txt")
    p = registers.phase_powers(r)
    e = [240.4 * -3.0, 239.1 * -4.0, 241.2 * -3.0]
    assert abs(p[0] - -2601 * e[0] / sum(e)) < 1e-6 and p[0] < 0 and p[1] < p[0]
    # Single-phase or no currents: all on L1.
    assert registers.phase_powers({"power_w": 500}) == (500, None, None)
    # Currents against the total's sign: shared by their sizes, all with the total's sign.
    p = registers.phase_powers({"power_w": 100, "current_l1_a": -1.0, "current_l2_a": 0.5,
                                "voltage_l1_v": 230.0, "voltage_l2_v": 230.0})
    assert abs(sum(p) - 100) < 1e-9 and p[0] > 0 and p[1] > 0 and abs(p[2]) < 1e-9
    # TIC export: the meter's phases read 0 while the total is negative.
    p = registers.phase_powers({"power_w": -600, "power_l1_w": 0, "power_l2_w": 0,
                                "power_l3_w": 0, "current_l1_a": -1.0, "current_l2_a": -1.0,
                                "current_l3_a": -1.0})
    assert all(abs(x + 200) < 1e-9 for x in p)


def test_tariffs_totals_and_fixed_values():
    r = parse_one("dsmr/v5.txt")
    img = registers.build_image(r, "Inepro-PRO380")
    assert abs(f32(img, 0x600E) - r["energy_import_t1_kwh"]) < 1e-3
    assert abs(f32(img, 0x601C) - r["energy_export_t2_kwh"]) < 1e-3
    total = r["energy_import_kwh"] + r["energy_export_kwh"]
    assert abs(f32(img, 0x6000) - total) < 1e-2
    assert abs(f32(img, 0x500A) - (0.48 + 0.44 + 0.86)) < 1e-6
    assert f32(img, 0x502A) == 1.0 and f32(img, 0x501A) == 0.0
    img = registers.build_image(r, "CarloGavazzi-EM24")
    assert s32l(img, 0x0028, 10) == 244.0 and regs(img, 0x0033, 1) == (500,)
    assert s32l(img, 0x0000, 10) == 230.0 and s32l(img, 0x000C, 1000) == 0.48
    assert abs(s32l(img, 0x0034, 10) - r["energy_import_kwh"]) < 0.1
    assert regs(img, 0x002E, 4) == (1000,) * 4
    registers.use("PhoenixContact-EMPro")


def test_em24_application_register_is_written_with_fc06():
    registers.use("CarloGavazzi-EM24", "SIM000000001")
    out = bytearray(8)
    req = bytes([6, 0xA0, 0x00, 0x00, 0x03])
    assert pdu.answer(req, 0, 5, (), True, out, 0, registers.write) == 5
    assert bytes(out[:5]) == req and regs((), 0xA000, 1) == (3,)
    assert registers.write(0xA000, 8) == 3 and registers.write(0x0000, 1) == 2
    assert registers.write(0xA000, 7) == 0 and regs((), 0xA000, 1) == (7,)
    registers.use("Eastron-SDM630")
    assert registers.write(0xA000, 7) == 1
    n = pdu.answer(req, 0, 5, (), True, out, 0, registers.write)
    assert n == 2 and out[0] == 0x86 and out[1] == 1
    registers.use("PhoenixContact-EMPro")


def test_reads_outside_the_template_are_counted_in_a_bounded_table():
    registers.use("PhoenixContact-EMPro", "SIM000000001")
    img = registers.build_image(parse_one("dsmr/v5.txt"))
    regs(img, 0x8016, 2)
    regs((), 0x8016, 2)  # no telegram yet: still the template's own
    assert registers.missed[0] == 0
    for _ in range(3):
        regs(img, 0x0034, 2)  # an SDM630 client
    for a in range(20):
        regs(img, 0x1000 + a, 1)
    assert registers.missed[0] == 23
    assert len(registers.misses) <= 8
    assert max(registers.misses.items(), key=lambda kv: kv[1]) == (0x0034, 3)
    registers.use("Eastron-SDM630")  # another template starts counting again
    assert registers.missed[0] == 0 and registers.misses == {}
    registers.use("PhoenixContact-EMPro")


def test_maps_are_not_kept_once_laid_out():
    registers.use("Eastron-SDM630", "SIM000000001")
    registers.use("Inepro-PRO380", "SIM000000001")
    assert "modbus.map_pro380" not in sys.modules and "modbus.map_sdm630" not in sys.modules
    registers.use("PhoenixContact-EMPro")


def test_every_map_uses_the_type_codes_of_templates():
    # The maps' private copies are inlined on MicroPython; CPython keeps them to compare.
    for name in TEMPLATES:
        templates.load(name)
        m = sys.modules["modbus." + templates._MODULES[TEMPLATES.index(name)]]
        for code in ("F32", "S32L", "U16", "U32", "TEXT"):
            assert getattr(m, "_" + code, getattr(templates, code)) == getattr(templates, code)
    registers.use("Eastron-SDM630")
    registers.use("PhoenixContact-EMPro")


def test_every_template_lays_out_within_its_addresses():
    """No two registers of a map overlap (values, constants and identification alike)."""
    for name in TEMPLATES:
        seen = set()
        for item in templates.load(name)[0]:
            start, words = item[0], registers._size(item)
            assert start + words <= 0x10000
            for a in range(start, start + words):
                assert a not in seen, (name, a)
                seen.add(a)
        registers.use(name, "SIM000000001")
    registers.use("PhoenixContact-EMPro")
