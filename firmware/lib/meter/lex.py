"""Byte-level scanners for the meter parsers.

Each scanner reads a slice of a buffer in place, so parsing a telegram allocates no
per-byte or per-line objects. On MicroPython they are compiled with the viper emitter
(they are the parser's inner loops); elsewhere the pure-Python twins below are used.
Both variants are tested against each other on the unix port.
"""

from array import array

# CRC-16/ARC: reflected poly 0xA001, init 0, one table lookup per byte.
_CRC_TABLE = array("H", bytes(512))
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0xA001 if _c & 1 else _c >> 1
    _CRC_TABLE[_i] = _c


def crc16_bitwise(buf, start, end):
    """The textbook bit loop, kept as the benchmark's plain-Python baseline."""
    crc = 0
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc16_py(buf, start, end):
    crc = 0
    table = _CRC_TABLE
    for i in range(start, end):
        crc = (crc >> 8) ^ table[(crc ^ buf[i]) & 0xFF]
    return crc


def crc_modbus_py(buf, start, end):
    """CRC-16/MODBUS: the same table as DSMR's CRC-16/ARC, from 0xFFFF (Modbus RTU)."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for i in range(start, end):
        crc = (crc >> 8) ^ table[(crc ^ buf[i]) & 0xFF]
    return crc


# One DSMR line from start: writes [index of '(' or -1, index of LF or end] into out and
# returns the OBIS key of the text before '(' (see obis_key).
def line_py(buf, start, end, out):
    e = buf.find(b"\n", start, end)
    if e < 0:
        e = end
    lp = buf.find(b"(", start, e)
    out[0] = lp
    out[1] = e
    return obis_key(buf, start, lp) if lp > start else -1


# OBIS "a-b:c.d.e" packs into a 30-bit small int: a 2 bits, b 4 bits, c/d/e 8 bits each,
# so it never allocates on a 32-bit port. -1 when the text is not such a code.
def obis_key(buf, start, end):
    fields = [0, 0, 0, 0, 0]
    limits = (3, 15, 255, 255, 255)
    seps = b"-:.."
    f = 0
    digits = 0
    for i in range(start, end):
        c = buf[i]
        if 48 <= c <= 57:
            fields[f] = fields[f] * 10 + c - 48
            digits += 1
            if fields[f] > limits[f]:
                return -1
        elif f < 4 and digits and c == seps[f]:
            f += 1
            digits = 0
        else:
            return -1
    if f != 4 or not digits:
        return -1
    return (fields[0] << 28) | (fields[1] << 24) | (fields[2] << 16) | (fields[3] << 8) | fields[4]


# A decimal number "000123.456" ending at end, ')' or '*' (a unit follows): returns the
# digits as an int and writes [decimals, end index, 1 if the unit has the k prefix
# ("*kW") else 0] into out. -1 for anything else, or more than 9 significant digits.
def number_py(buf, start, end, out):
    value = 0
    digits = 0
    dec = -1
    i = start
    while i < end:
        c = buf[i]
        if 48 <= c <= 57:
            if value or c != 48:
                digits += 1
            value = value * 10 + c - 48
            if dec >= 0:
                dec += 1
        elif c == 46 and dec < 0:
            dec = 0
        else:
            break
        i += 1
    if i == start or digits > 9 or dec == 0 or (i < end and buf[i] != 41 and buf[i] != 42):
        return -1
    out[0] = dec if dec > 0 else 0
    out[1] = i
    out[2] = 1 if i + 1 < end and buf[i] == 42 and buf[i + 1] == 107 else 0
    return value


# TIC group checksum: (sum of bytes) & 0x3F + 0x20.
def tic_sum_py(buf, start, end):
    s = 0
    for i in range(start, end):
        s += buf[i]
    return (s & 0x3F) + 0x20


# TIC labels hash to a 30-bit small int; callers confirm a hit against the label bytes.
def label_hash_py(buf, start, end):
    h = 0
    for i in range(start, end):
        h = (h * 31 + buf[i]) & 0x3FFFFFFF
    return h


def hex_digit(c):
    """Value of one hex digit byte (either case), -1 for anything else."""
    if 48 <= c <= 57:
        return c - 48
    c |= 0x20
    return c - 87 if 97 <= c <= 102 else -1


def ascii_text(buf, start, end):
    """Printable ASCII of a slice, anything else as '?': meter texts are ASCII, and this
    keeps JSON identical on CPython and MicroPython (which escape differently)."""
    s = bytes(buf[start:end])
    for c in s:
        if not 32 <= c < 127:
            return "".join(chr(c) if 32 <= c < 127 else "?" for c in s)
    return s.decode()


def hex_text(buf, a, b):
    """Equipment ids are ASCII sent as hex: the ASCII when that is what it is, else the
    text as sent."""
    n = b - a
    if n and not n & 1:
        out = bytearray(n // 2)
        for i in range(0, n, 2):
            hi = hex_digit(buf[a + i])
            lo = hex_digit(buf[a + i + 1])
            c = (hi << 4) | lo
            if hi < 0 or lo < 0 or not 32 < c < 127:
                break
            out[i // 2] = c
        else:
            return out.decode()
    return ascii_text(buf, a, b)


def cached_text(cache, buf, a, b, key, decode):
    """decode(buf, a, b) for a text that repeats in every telegram (ids, units): decoded
    once, then reused while its bytes match, so it allocates nothing. None if b < a."""
    if b < a:
        return None
    hit = cache.get(key)
    if hit is not None and hit[0] == b - a and buf.find(hit[1], a, b) == a:
        return hit[2]
    text = decode(buf, a, b)
    cache[key] = (b - a, bytes(buf[a:b]), text)
    return text


# ESP-IDF's image checksum (update/image.py): seed XOR every byte; a firmware image is
# 1.5 MB of them.
def xor8_py(buf, start, end, seed):
    for i in range(start, end):
        seed ^= buf[i]
    return seed


crc16 = crc16_py
crc_modbus = crc_modbus_py
xor8 = xor8_py
line = line_py
number = number_py
tic_sum = tic_sum_py
label_hash = label_hash_py

try:
    import micropython

    @micropython.viper
    def crc16(buf, start: int, end: int) -> int:
        p = ptr8(buf)  # noqa: F821 - viper builtin
        t = ptr16(_CRC_TABLE)  # noqa: F821
        crc = 0
        i = start
        while i < end:
            crc = (crc >> 8) ^ t[(crc ^ p[i]) & 0xFF]
            i += 1
        return crc

    @micropython.viper
    def crc_modbus(buf, start: int, end: int) -> int:
        p = ptr8(buf)  # noqa: F821 - viper builtin
        t = ptr16(_CRC_TABLE)  # noqa: F821
        crc = 0xFFFF
        i = start
        while i < end:
            crc = (crc >> 8) ^ t[(crc ^ p[i]) & 0xFF]
            i += 1
        return crc

    @micropython.viper
    def line(buf, start: int, end: int, out) -> int:
        p = ptr8(buf)  # noqa: F821
        o = ptr32(out)  # noqa: F821
        lp = -1
        key = 0
        cur = 0
        f = 0
        digits = 0
        bad = False
        i = start
        while i < end:
            c = p[i]
            if c == 10:
                break
            if lp < 0:
                if c == 40:
                    lp = i
                elif bad:
                    pass
                elif c >= 48 and c <= 57:
                    cur = cur * 10 + c - 48
                    digits += 1
                    if cur > 255 or (f == 0 and cur > 3) or (f == 1 and cur > 15):
                        bad = True
                elif f < 4 and digits > 0 and (
                    (f == 0 and c == 45) or (f == 1 and c == 58) or (f > 1 and c == 46)
                ):
                    if f == 0:
                        key = cur
                    elif f == 1:
                        key = (key << 4) | cur
                    else:
                        key = (key << 8) | cur
                    f += 1
                    cur = 0
                    digits = 0
                else:
                    bad = True
            i += 1
        o[0] = lp
        o[1] = i
        if lp <= start or bad or f != 4 or digits == 0:
            return -1
        return (key << 8) | cur

    @micropython.viper
    def number(buf, start: int, end: int, out) -> int:
        p = ptr8(buf)  # noqa: F821
        o = ptr32(out)  # noqa: F821
        value = 0
        digits = 0
        dec = -1
        i = start
        while i < end:
            c = p[i]
            if c >= 48 and c <= 57:
                if value != 0 or c != 48:
                    digits += 1
                value = value * 10 + c - 48
                if dec >= 0:
                    dec += 1
            elif c == 46 and dec < 0:
                dec = 0
            else:
                break
            i += 1
        if i == start or digits > 9 or dec == 0 or (i < end and p[i] != 41 and p[i] != 42):
            return -1
        o[0] = dec if dec > 0 else 0
        o[1] = i
        o[2] = 1 if i + 1 < end and p[i] == 42 and p[i + 1] == 107 else 0
        return value

    @micropython.viper
    def tic_sum(buf, start: int, end: int) -> int:
        p = ptr8(buf)  # noqa: F821
        s = 0
        i = start
        while i < end:
            s += p[i]
            i += 1
        return (s & 0x3F) + 0x20

    @micropython.viper
    def xor8(buf, start: int, end: int, seed: int) -> int:
        p = ptr8(buf)  # noqa: F821
        i = start
        while i < end:
            seed ^= p[i]
            i += 1
        return seed

    @micropython.viper
    def label_hash(buf, start: int, end: int) -> int:
        p = ptr8(buf)  # noqa: F821
        h = 0
        i = start
        while i < end:
            h = (h * 31 + p[i]) & 0x3FFFFFFF
            i += 1
        return h

except (ImportError, AttributeError):
    pass
