"""The register image built once per reading, from the template in use (modbus/templates).

An image is a tuple of (first address, bytes) blocks, immutable, so every response served
from it is a consistent snapshot of one telegram. Only the template in use is laid out:
its value blocks, the blocks that never change (identification, fixed values: built once,
served before the first telegram too) and the few registers a client may write (FC06,
kept here). Addresses outside all of them, and values the meter does not send, read as
zero; reads that touch none of them are counted (a client set to another meter).
"""
import struct

try:
    from micropython import const
except ImportError:
    const = int

from device.version import VERSION
from modbus import templates
from modbus.templates import DEFAULT, TEMPLATES  # noqa: F401 (what the configuration takes)

# The register types of modbus/templates, as private constants: inlined, they take no heap.
_F32 = const(0)
_S32L = const(1)
_U16 = const(2)
_U32 = const(3)
_TEXT = const(4)

# Sources use() derives once from the device (modbus/templates), not from a reading.
_DERIVED = ("serial", "serial_digits", "version")
# The meters we read do not send the grid frequency; chargers expect a plausible value.
FREQUENCY_HZ = 50.0
_CURRENTS = ("current_l1_a", "current_l2_a", "current_l3_a")
_VOLTAGES = ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v")


def phase_powers(r):
    """Per-phase powers (W) that sum to the total. The meter's own when it sends any that
    are not all zero. Else the total is shared by the phases' voltage x signed current
    (230 V for a voltage it does not send): scaled to the total when their sum has the
    total's sign, else by their sizes. No currents: all on L1 (single-phase)."""
    own = (r.get("power_l1_w"), r.get("power_l2_w"), r.get("power_l3_w"))
    total = r.get("power_w")
    if any(own) or not total:
        return own
    e = [0.0, 0.0, 0.0]
    for n in range(3):
        i = r.get(_CURRENTS[n])
        if i:
            v = r.get(_VOLTAGES[n])
            e[n] = i * (230.0 if v is None else v)  # nominal for a voltage not sent
    s = e[0] + e[1] + e[2]
    if s == 0 or (s > 0) != (total > 0):
        e = [abs(e[0]), abs(e[1]), abs(e[2])]
        s = e[0] + e[1] + e[2]
        if not s:
            return total, None, None
    p1 = total * e[0] / s
    p2 = total * e[1] / s
    return p1, p2, total - p1 - p2


def _value(r, key, phases):
    if len(key) == 2:  # "p1".."p3": active power, "s1".."s3": apparent (power factor 1)
        v = phases[int(key[1]) - 1]
        return v if key[0] == "p" or v is None else abs(v)
    if key == "s":
        v = r.get("power_w")
        return None if v is None else abs(v)
    if key == "frequency":
        return FREQUENCY_HZ
    if key == "current_sum_a":
        cs = [r.get(k) for k in _CURRENTS]
        return None if cs == [None, None, None] else sum(abs(c or 0) for c in cs)
    if key.startswith("energy_total"):
        tail = key[12:]
        imp = r.get("energy_import" + tail)
        exp = r.get("energy_export" + tail)
        return None if imp is None and exp is None else (imp or 0) + (exp or 0)
    return r.get(key)


def _pack(data, o, kind, v, scale, cdab):
    if kind == _F32:
        struct.pack_into(">f", data, o, v * scale)
        if cdab:  # low word first, each word big-endian (the real EEM-MA370): in place
            a, b = data[o], data[o + 1]
            data[o], data[o + 1] = data[o + 2], data[o + 3]
            data[o + 2], data[o + 3] = a, b
    elif kind == _S32L:
        u = int(round(v * scale)) & 0xFFFFFFFF
        struct.pack_into(">HH", data, o, u & 0xFFFF, u >> 16)
    elif kind == _U16:
        struct.pack_into(">H", data, o, int(round(v * scale)) & 0xFFFF)
    elif kind == _U32:
        hi, lo = v >> 16 & 0xFFFF, v & 0xFFFF
        struct.pack_into(">HH", data, o, lo if cdab else hi, hi if cdab else lo)  # cdab: EMpro
    else:  # TEXT; cdab: each register's first character in its low byte (the EMpro)
        t = (v.encode() if isinstance(v, str) else v)[:2 * scale]  # constants are bytes
        data[o:o + len(t)] = t
        if cdab:
            for i in range(o, o + len(t), 2):
                data[i], data[i + 1] = data[i + 1], data[i]


def _size(item):
    """Registers of a template item: TEXT its scale, U16 one, the rest two."""
    return item[3] if item[1] == _TEXT else 1 if item[1] == _U16 else 2


def _blocks(regs):
    """Group registers into runs of adjacent addresses: [(address, [items], words)]."""
    blocks = []
    for item in regs:
        if blocks and blocks[-1][0] + blocks[-1][2] == item[0]:
            blocks[-1][1].append(item)
            blocks[-1][2] += _size(item)
        else:
            blocks.append([item[0], [item], _size(item)])
    return blocks


def _fill(block, r, phases, cdab):
    """The bytes of one block; r None: every source is a constant."""
    data = bytearray(2 * block[2])
    o = 0
    for item in block[1]:
        kind, src, scale = item[1], item[2], item[3]
        v = _value(r, src, phases) if r is not None else src
        if v is not None:
            _pack(data, o, kind, v, scale, cdab)
        o += 2 * _size(item)
    return bytes(data)


def serial_number(serial):
    """The device serial as a meter's 32-bit serial number: its last 8 characters read as
    decimal when they are digits (SIM000000001 -> 1), else as hex (a MAC's last 4 bytes),
    else the digits among them (SC0001 -> 1)."""
    tail = serial[-8:]
    if tail.isdigit():
        return int(tail)
    try:
        return int(tail, 16)
    except ValueError:
        digits = "".join(c for c in tail if c.isdigit())
        return int(digits) if digits else 0


# The template in use, laid out (one list, indexed by the private constants below): its
# name, the device serial, CDAB?, the value blocks ((address, items, words), filled per
# reading), the constant blocks ((address, bytes)), the writable registers, their values.
_NAME = const(0)
_SERIAL = const(1)
_CDAB = const(2)
_VALUES = const(3)
_FIXED = const(4)
_WRITABLE = const(5)
_WRITTEN = const(6)
_lay = [None] * 7
# Reads that touched no register of the template (a client set to another meter): their
# count, and the first address of the most frequent ones -> reads (at most 8).
missed = [0]
misses = {}
_MISSES_KEPT = const(8)


def use(template=DEFAULT, serial=None):
    """Lay out the template in use (the others take no heap); serial: the device's."""
    if serial is None:
        serial = _lay[_SERIAL] or ""
    if _lay[_NAME] == template and _lay[_SERIAL] == serial:
        return
    regs, cdab, writable = templates.load(template)
    v = [int(x) for x in VERSION.split(".")]
    fixed = []
    for item in regs:
        a, kind, src, scale = item
        if not isinstance(src, str):  # a constant (text ones are bytes)
            pass
        elif src == "serial":
            src = serial if kind == _TEXT else serial_number(serial)
        elif src == "serial_digits":  # the 32-bit serial number as text (the EMpro's)
            src = str(serial_number(serial))
        elif src == "version":  # in the meter's form: the EM24's, or a float x.yy
            src = v[0] << 12 | v[1] << 8 | v[2] if kind == _U16 else v[0] + v[1] / 100
        else:
            continue
        fixed.append((a, kind, src, scale))
    _lay[_NAME] = template
    _lay[_SERIAL] = serial
    _lay[_CDAB] = cdab
    _lay[_VALUES] = tuple((b[0], tuple(b[1]), b[2]) for b in _blocks(
        x for x in regs if isinstance(x[2], str) and x[2] not in _DERIVED))
    _lay[_FIXED] = tuple((b[0], _fill(b, None, (), cdab)) for b in _blocks(fixed))
    _lay[_WRITABLE] = writable
    _lay[_WRITTEN] = [w[3] for w in writable]
    templates.unload(template)  # the layout keeps what it needs of the map
    missed[0] = 0
    misses.clear()


def build_image(reading, template=DEFAULT):
    """The register image of one reading: a tuple of (address, bytes) blocks."""
    if _lay[_NAME] != template:
        use(template)
    phases = phase_powers(reading)
    cdab = _lay[_CDAB]
    return tuple((b[0], _fill(b, reading, phases, cdab)) for b in _lay[_VALUES])


def write(addr, value):
    """FC06: 0 when addr is writable in this template and value in its range, else the
    Modbus exception code (1: the template writes nothing, 2: not writable, 3: out of
    range). Written values last until the firmware restarts."""
    writable = _lay[_WRITABLE]
    if not writable:
        return 1
    for i in range(len(writable)):
        w = writable[i]
        if w[0] == addr:
            if not w[1] <= value <= w[2]:
                return 3
            _lay[_WRITTEN][i] = value
            return 0
    return 2


_ZEROS = bytes(250)  # the largest Modbus read: 125 registers


def _copy(blocks, addr, end, out, off):
    hit = False
    for start, data in blocks:
        stop = start + len(data) // 2
        if start < end and addr < stop:
            a = max(addr, start)
            b = min(end, stop)
            out[off + 2 * (a - addr):off + 2 * (b - addr)] = data[2 * (a - start):2 * (b - start)]
            hit = True
    return hit


def read_into(image, addr, count, out, off):
    """Write count (<= 125) registers from addr into out[off:]; unmapped ones read zero."""
    if _lay[_NAME] is None:
        use()
    out[off:off + 2 * count] = memoryview(_ZEROS)[:2 * count]
    end = addr + count
    hit = _copy(image, addr, end, out, off)
    if _copy(_lay[_FIXED], addr, end, out, off):
        hit = True
    writable = _lay[_WRITABLE]
    for i in range(len(writable)):
        a = writable[i][0]
        if addr <= a < end:
            w = _lay[_WRITTEN][i]
            out[off + 2 * (a - addr)] = w >> 8
            out[off + 2 * (a - addr) + 1] = w & 0xFF
            hit = True
    if not hit:  # also before the first telegram: look at where the values would be
        for start, _, words in _lay[_VALUES]:
            if start < end and addr < start + words:
                return
        _miss(addr)


def _miss(addr):
    missed[0] += 1
    if addr in misses:
        misses[addr] += 1
    elif len(misses) < _MISSES_KEPT:
        misses[addr] = 1
    else:  # the rarest one makes room, once it has been read only once: the frequent stay
        rare = min(misses, key=misses.get)
        if misses[rare] <= 1:
            del misses[rare]
            misses[addr] = 1
