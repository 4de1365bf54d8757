"""Register templates and images, checked against the normalized reading."""
import struct

from modbus import registers
from support import corpus_names, parse_one


def read(image, addr, count):
    out = bytearray(2 * count + 3)
    registers.read_into(image, addr, count, out, 3)
    return bytes(out[3:])


def f32(image, addr, cdab):
    b = read(image, addr, 2)
    if cdab:
        b = b[2:] + b[:2]
    return struct.unpack(">f", b)[0]


def near(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def test_empro_is_cdab_with_energy_in_wh():
    r = parse_one("dsmr/v5.txt")
    img = registers.build_image(r)
    abcd = struct.pack(">f", 244.0)
    assert read(img, 0x8016, 2) == abcd[2:] + abcd[:2]
    assert f32(img, 0x8016, True) == 244.0
    assert near(f32(img, 0x8006, True), 230.0) and near(f32(img, 0x800A, True), 229.0)
    assert near(f32(img, 0x800E, True), 0.48)
    assert f32(img, 0x800C, True) == 50.0
    assert near(f32(img, 0x8100, True), 6825.0) and near(f32(img, 0x8106, True), 2444.0)
    assert f32(img, 0x801E, True) == 70.0


def test_sdm630_abcd_and_pro380_kw():
    r = parse_one("dsmr/dsmr502_spec_example.txt")
    img = registers.build_image(r, "Eastron-SDM630")
    assert f32(img, 0x000C, False) == -3333.0 and f32(img, 0x0006, False) == -1.0
    assert f32(img, 0x0034, False) == 1193.0
    assert near(f32(img, 0x0156, False), 2 * 246913.578)
    img = registers.build_image(r, "Inepro-PRO380")
    assert near(f32(img, 0x5012, False), 1.193) and near(f32(img, 0x5014, False), -3.333)
    assert near(f32(img, 0x600C, False), 246913.578)


def test_missing_values_and_unmapped_addresses_read_zero():
    r = parse_one("dsmr/v4_2.txt")
    img = registers.build_image(r)
    assert read(img, 0x8006, 6) == bytes(12)  # DSMR 4.2 sends no voltages
    assert read(img, 0x0000, 125) == bytes(250)
    assert read(img, 0xFFFF, 1) == bytes(2)
    # A read across a block edge: mapped part filled, the rest zero.
    b = read(img, 0x8014, 6)
    assert b[:4] == bytes(4) and b[4:8] != bytes(4)


def test_every_corpus_reading_builds_every_template():
    for name in corpus_names("dsmr") + corpus_names("tic"):
        r = parse_one(name)
        for t in registers.TEMPLATES:
            img = registers.build_image(r, t)
            assert isinstance(img, tuple) and all(isinstance(d, bytes) for _, d in img)
