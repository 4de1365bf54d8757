"""Modbus register templates (SPEC section 4) and the register image built once per reading.

An image is a tuple of (first address, bytes) blocks, immutable, so every response served
from it is a consistent snapshot of one telegram. Addresses outside the blocks, and values
the meter does not send, read as zero.
"""
import struct

# (address, reading key or special value, scale)
_EMPRO = (
    (0x8006, "voltage_l1_v", 1), (0x8008, "voltage_l2_v", 1), (0x800A, "voltage_l3_v", 1),
    (0x800C, "frequency", 1),
    (0x800E, "current_l1_a", 1), (0x8010, "current_l2_a", 1), (0x8012, "current_l3_a", 1),
    (0x8016, "power_w", 1),
    (0x801E, "power_l1_w", 1), (0x8020, "power_l2_w", 1), (0x8022, "power_l3_w", 1),
    (0x8100, "energy_import_kwh", 1000), (0x8106, "energy_export_kwh", 1000),
)
_SDM630 = (
    (0x0000, "voltage_l1_v", 1), (0x0002, "voltage_l2_v", 1), (0x0004, "voltage_l3_v", 1),
    (0x0006, "current_l1_a", 1), (0x0008, "current_l2_a", 1), (0x000A, "current_l3_a", 1),
    (0x000C, "power_l1_w", 1), (0x000E, "power_l2_w", 1), (0x0010, "power_l3_w", 1),
    (0x0034, "power_w", 1), (0x0046, "frequency", 1),
    (0x0048, "energy_import_kwh", 1), (0x004A, "energy_export_kwh", 1),
    (0x0156, "energy_total_kwh", 1),
)
_PRO380 = (
    (0x5002, "voltage_l1_v", 1), (0x5004, "voltage_l2_v", 1), (0x5006, "voltage_l3_v", 1),
    (0x5008, "frequency", 1),
    (0x500C, "current_l1_a", 1), (0x500E, "current_l2_a", 1), (0x5010, "current_l3_a", 1),
    (0x5012, "power_w", 0.001),
    (0x5014, "power_l1_w", 0.001), (0x5016, "power_l2_w", 0.001), (0x5018, "power_l3_w", 0.001),
    (0x600C, "energy_import_kwh", 1), (0x6018, "energy_export_kwh", 1),
)

# name -> (registers, word order CDAB?)
TEMPLATES = {
    "PhoenixContact-EMPro": (_EMPRO, True),
    "Eastron-SDM630": (_SDM630, False),
    "Inepro-PRO380": (_PRO380, False),
}
DEFAULT = "PhoenixContact-EMPro"

# The meters we read do not send the grid frequency; chargers expect a plausible value.
FREQUENCY_HZ = 50.0


def _value(r, key):
    if key == "frequency":
        return FREQUENCY_HZ
    if key == "energy_total_kwh":
        imp = r.get("energy_import_kwh")
        exp = r.get("energy_export_kwh")
        return None if imp is None and exp is None else (imp or 0) + (exp or 0)
    return r.get(key)


def _blocks(regs):
    """Group a template's float32 registers into runs of adjacent addresses."""
    blocks = []
    for addr, key, scale in regs:
        if blocks and blocks[-1][0] + 2 * len(blocks[-1][1]) == addr:
            blocks[-1][1].append((key, scale))
        else:
            blocks.append((addr, [(key, scale)]))
    return tuple((addr, tuple(items)) for addr, items in blocks)


_layout = [None, None, False]  # the template in use: name, its blocks, word order CDAB


def build_image(reading, template=DEFAULT):
    """The register image of one reading: a tuple of (address, bytes) blocks. Only the
    template in use is laid out (once, when it is first used): the others take no heap."""
    if _layout[0] != template:
        regs, cdab = TEMPLATES[template]
        _layout[:] = [template, _blocks(regs), cdab]
    blocks, cdab = _layout[1], _layout[2]
    out = []
    for addr, items in blocks:
        data = bytearray(4 * len(items))
        for i, (key, scale) in enumerate(items):
            v = _value(reading, key)
            if v is None:
                continue
            struct.pack_into(">f", data, 4 * i, v * scale)
            if cdab:
                # Low word first, each word big-endian (the real EEM-MA370).
                data[4 * i:4 * i + 4] = data[4 * i + 2:4 * i + 4] + data[4 * i:4 * i + 2]
        out.append((addr, bytes(data)))
    return tuple(out)


_ZEROS = bytes(250)  # the largest Modbus read: 125 registers


def read_into(image, addr, count, out, off):
    """Write count (<= 125) registers from addr into out[off:]; unmapped ones read zero."""
    out[off:off + 2 * count] = memoryview(_ZEROS)[:2 * count]
    end = addr + count
    for start, data in image:
        stop = start + len(data) // 2
        if start < end and addr < stop:
            a = max(addr, start)
            b = min(end, stop)
            out[off + 2 * (a - addr):off + 2 * (b - addr)] = data[2 * (a - start):2 * (b - start)]
