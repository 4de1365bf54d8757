"""DSMR 2.2-5, e-MUCS (Belgium) and A1 telegrams -> normalized reading.

The telegram is parsed in place from the framer's buffer: lines are found with find(),
OBIS codes become small ints (lex.obis_key) and numbers are read as digits + decimals
(lex.number), so a telegram allocates little more than the reading it produces.
"""
from array import array

from meter import lex, reading
from meter.timeconv import dsmr_ts

try:
    from micropython import const
except ImportError:
    const = int


class TelegramError(ValueError):
    """A telegram that must not change any served value; the message says why."""


def obis(text):
    """The packed key of an OBIS code given as text (for tables, not the hot path)."""
    b = text.encode()
    return lex.obis_key(b, 0, len(b))


# What a mapped object holds: the kind of value and where it goes.
_POWER = const(1)  # kW or W -> int W
_ENERGY = const(2)  # kWh or Wh -> float kWh
_FLOAT = const(3)  # V, A
_TS = const(4)
_INT = const(5)
_TEXT = const(6)  # version strings, equipment ids
_MBUS_TYPE = const(7)
_MBUS_VALUE = const(8)  # (ts)(value*unit)
_MBUS_LEGACY = const(9)  # DSMR 2.2/3.0: (ts)(..)(..)(..)(obis)(unit) then (value) on the next line
_PEAK = const(10)  # (ts)(kW)
_HISTORY = const(11)

# Scratch slots filled while parsing one telegram.
_S_TS = const(0)
_S_P_IMP = const(1)
_S_P_EXP = const(2)
_S_PL_IMP = const(3)  # 3..5
_S_PL_EXP = const(6)  # 6..8
_S_VOLT = const(9)  # 9..11
_S_CURR = const(12)  # 12..14
_S_AVG = const(15)
_S_E_IMP = const(16)  # 1.8.0
_S_E_EXP = const(17)  # 2.8.0
_S_E_IMP_T = const(18)  # 18..21 = 1.8.1..1.8.4
_S_E_EXP_T = const(22)  # 22..25 = 2.8.1..2.8.4
_S_TARIFF = const(26)
_S_PEAK_W = const(27)
_S_PEAK_TS = const(28)
_S_HISTORY = const(29)
_S_VERSION = const(30)  # 1-3:0.2.8
_S_EMUCS = const(31)  # 0-0:96.1.4
_S_ID = const(32)  # 0-0:96.1.1
_S_ID_ALT = const(33)  # 0-0:96.1.0
_S_LIMIT_UNIT_KW = const(34)  # 0-0:17.0.0 in kW (tells DSMR 2.2 from 3.0)
_NSLOTS = const(35)

_MBUS_CHANNELS = const(4)
_GAS = const(3)
_WATER = const(7)


def _table():
    t = {}

    def add(code, kind, slot):
        t[obis(code)] = (kind << 8) | slot

    add("0-0:1.0.0", _TS, _S_TS)
    add("1-0:1.7.0", _POWER, _S_P_IMP)
    add("1-0:2.7.0", _POWER, _S_P_EXP)
    for i, c in enumerate((21, 41, 61)):
        add("1-0:%d.7.0" % c, _POWER, _S_PL_IMP + i)
        add("1-0:%d.7.0" % (c + 1), _POWER, _S_PL_EXP + i)
        add("1-0:%d.7.0" % (c + 11), _FLOAT, _S_VOLT + i)
        add("1-0:%d.7.0" % (c + 10), _FLOAT, _S_CURR + i)
    add("1-0:1.4.0", _POWER, _S_AVG)
    add("1-0:1.8.0", _ENERGY, _S_E_IMP)
    add("1-0:2.8.0", _ENERGY, _S_E_EXP)
    for i in range(4):
        add("1-0:1.8.%d" % (i + 1), _ENERGY, _S_E_IMP_T + i)
        add("1-0:2.8.%d" % (i + 1), _ENERGY, _S_E_EXP_T + i)
    add("0-0:96.14.0", _INT, _S_TARIFF)
    add("1-0:1.6.0", _PEAK, _S_PEAK_W)
    add("0-0:98.1.0", _HISTORY, _S_HISTORY)
    add("1-3:0.2.8", _TEXT, _S_VERSION)
    add("0-0:96.1.4", _TEXT, _S_EMUCS)
    add("0-0:96.1.1", _TEXT, _S_ID)
    add("0-0:96.1.0", _TEXT, _S_ID_ALT)
    add("0-0:17.0.0", _TEXT, _S_LIMIT_UNIT_KW)
    for ch in range(1, _MBUS_CHANNELS + 1):
        add("0-%d:24.1.0" % ch, _MBUS_TYPE, ch)
        add("0-%d:24.2.1" % ch, _MBUS_VALUE, ch)
        add("0-%d:24.2.3" % ch, _MBUS_VALUE, ch)
        add("0-%d:24.3.0" % ch, _MBUS_LEGACY, ch)
    return t


_TABLE = _table()
_EMPTY = (None,) * _NSLOTS
_NO_MBUS = (None,) * (_MBUS_CHANNELS + 1)
_NO_MBUS_TYPE = (0,) * (_MBUS_CHANNELS + 1)
_POW10 = (1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12)
_IPOW10 = (1, 10, 100, 1000)
_LF = const(10)
_LPAREN = const(40)
_RPAREN = const(41)
_STAR = const(42)


def _hex_text(buf, a, b):
    """Equipment ids are ASCII sent as hex; show the ASCII when that is what it is."""
    n = b - a
    if n and not n & 1:
        out = bytearray(n // 2)
        for i in range(0, n, 2):
            hi = lex.hex_digit(buf[a + i])
            lo = lex.hex_digit(buf[a + i + 1])
            c = (hi << 4) | lo
            if hi < 0 or lo < 0 or not 32 < c < 127:
                break
            out[i // 2] = c
        else:
            return out.decode()
    return lex.ascii_text(buf, a, b)


def _crc_digits(buf, start, end):
    """The CRC after '!' (0, 3 or 4 hex digits then CRLF): its value, -1 for none."""
    n = end - start - 2
    if n < 0 or buf[end - 2] != 13 or buf[end - 1] != _LF or n not in (0, 3, 4):
        raise TelegramError("bad end line")
    v = 0
    for i in range(start, start + n):
        d = lex.hex_digit(buf[i])
        if d < 0 or buf[i] > 70:
            raise TelegramError("bad CRC digits")
        v = (v << 4) | d
    return v if n else -1


class DsmrParser:
    """Reusable parser: its scratch space is allocated once, not per telegram."""

    def __init__(self):
        self._v = [None] * _NSLOTS
        self._mtype = [0] * (_MBUS_CHANNELS + 1)
        self._mval = [None] * (_MBUS_CHANNELS + 1)
        self._mts = [None] * (_MBUS_CHANNELS + 1)
        self._num = array("i", (0, 0, 0))
        self._texts = {}

    def parse(self, buf, n, now, raw=None):
        """Parse buf[0:n], one telegram from '/' to the LF after the CRC.

        Returns a reading; raises TelegramError with the reason otherwise. raw, when a
        dict, receives every object as OBIS text -> list of its value strings.
        """
        if n < 4 or buf[0] != 47:
            raise TelegramError("no '/' at start")
        bang = buf.rfind(b"\n!", 0, n) + 1
        if bang <= 0:
            raise TelegramError("no '!' end line")
        crc = _crc_digits(buf, bang + 1, n)
        if crc >= 0 and lex.crc16(buf, 0, bang + 1) != crc:
            raise TelegramError("CRC mismatch")
        v = self._v
        v[:] = _EMPTY
        self._mtype[:] = _NO_MBUS_TYPE
        self._mval[:] = _NO_MBUS
        self._mts[:] = _NO_MBUS
        mval = self._mval
        num = self._num
        table = _TABLE
        pos = buf.find(b"\n", 0, bang) + 1
        legacy = 0
        key_text = None
        while pos < bang:
            key = lex.line(buf, pos, bang, num)
            lp = num[0]
            e = num[1]
            if lp == pos:
                if legacy:
                    m = lex.number(buf, lp + 1, e, num)
                    if m >= 0:
                        mval[legacy] = m / _POW10[num[0]]
                    legacy = 0
                if key_text is not None:
                    raw[key_text].extend(_groups(buf, lp, e))
            elif lp > 0:
                code = table.get(key)
                if code is not None:
                    kind = code >> 8
                    if kind == _POWER:
                        m = lex.number(buf, lp + 1, e, num)
                        if m >= 0:
                            v[code & 0xFF] = self._watts(m)
                    elif kind == _ENERGY or kind == _FLOAT:
                        m = lex.number(buf, lp + 1, e, num)
                        if m >= 0:
                            dec = num[0]
                            if kind == _ENERGY and not num[2]:
                                dec += 3
                            v[code & 0xFF] = m / _POW10[dec]
                    else:
                        legacy = self._store(buf, lp, e, kind, code & 0xFF)
                if raw is not None:
                    key_text = lex.ascii_text(buf, pos, lp)
                    raw[key_text] = _groups(buf, lp, e)
            pos = e + 1
        return self._reading(crc >= 0, now)

    def _store(self, buf, lp, e, kind, slot):
        """Store one mapped object; returns the M-Bus channel awaiting a legacy value."""
        v = self._v
        a = lp + 1
        if kind == _TS:
            v[slot] = dsmr_ts(buf, a, buf.find(b")", a, e))
        elif kind == _INT:
            m = lex.number(buf, a, e, self._num)
            if m >= 0 and self._num[0] == 0:
                v[slot] = m
        elif kind == _TEXT:
            v[slot] = self._text(buf, a, buf.find(b")", a, e), slot)
        elif kind == _MBUS_TYPE:
            m = lex.number(buf, a, e, self._num)
            self._mtype[slot] = m if m >= 0 else 0
        elif kind == _MBUS_VALUE:
            rp = buf.find(b")", a, e)
            m = lex.number(buf, rp + 2, e, self._num) if rp > 0 else -1
            # A value without a unit is the meter's placeholder for an absent device.
            if m >= 0 and buf[self._num[1]] == _STAR:
                self._mval[slot] = m / _POW10[self._num[0]]
                self._mts[slot] = dsmr_ts(buf, a, rp)
        elif kind == _MBUS_LEGACY:
            self._mts[slot] = dsmr_ts(buf, a, buf.find(b")", a, e))
            return slot
        elif kind == _PEAK:
            rp = buf.find(b")", a, e)
            m = lex.number(buf, rp + 2, e, self._num) if rp > 0 else -1
            if m >= 0:
                v[_S_PEAK_TS] = dsmr_ts(buf, a, rp)
                v[_S_PEAK_W] = self._watts(m)
        elif kind == _HISTORY:
            v[slot] = self._history(buf, lp, e)
        return 0

    def _watts(self, m):
        """Digits m of a kW or W value (decimals and unit prefix from the last
        lex.number call) -> int W."""
        dec = self._num[0]
        if self._num[2]:
            return m * _IPOW10[3 - dec] if dec <= 3 else int(m / _POW10[dec - 3] + 0.5)
        return m if dec == 0 else int(m / _POW10[dec] + 0.5)

    def _text(self, buf, a, b, slot):
        """Texts repeat in every telegram: decode once, then reuse while the bytes match."""
        if b < a:
            return None
        cached = self._texts.get(slot)
        if cached is not None and cached[0] == b - a and buf.find(cached[1], a, b) == a:
            return cached[2]
        if slot == _S_ID or slot == _S_ID_ALT:
            text = _hex_text(buf, a, b)
        elif slot == _S_LIMIT_UNIT_KW:
            text = buf.find(b"*kW", a, b) > 0
        else:
            text = lex.ascii_text(buf, a, b)
        self._texts[slot] = (b - a, bytes(buf[a:b]), text)
        return text

    def _history(self, buf, lp, e):
        """e-MUCS 98.1.0: (n)(1-0:1.6.0)(1-0:1.6.0) then n x (month)(occurred)(kW)."""
        n = lex.number(buf, lp + 1, e, self._num)
        if n < 0 or buf[self._num[1]] != _RPAREN or n > 13:
            return None
        p = self._num[1] + 1
        for _ in range(2):
            p = buf.find(b")", p, e) + 1
            if p <= 0:
                return None
        out = []
        for _ in range(n):
            r1 = buf.find(b")", p + 1, e)
            r2 = buf.find(b")", r1 + 1, e)
            if r1 < 0 or r2 < 0 or buf[p] != _LPAREN:
                return None
            m = lex.number(buf, r2 + 2, e, self._num)
            if m < 0:
                return None
            out.append({
                "month_ts": dsmr_ts(buf, p + 1, r1),
                "ts": dsmr_ts(buf, r1 + 2, r2),
                "w": self._watts(m),
            })
            p = buf.find(b")", r2 + 1, e) + 1
        return out

    def _reading(self, has_crc, now):
        v = self._v
        version = v[_S_VERSION]
        if v[_S_EMUCS] is not None:
            protocol = "emucs"
            version = v[_S_EMUCS]
        elif version is not None:
            major = version[:1]
            if not has_crc and major in ("4", "5"):
                raise TelegramError("DSMR %s telegram without CRC" % version)
            protocol = "dsmr4" if major == "4" else "dsmr5"
        elif has_crc:
            protocol = "dsmr5"
        else:
            protocol = "dsmr2" if v[_S_LIMIT_UNIT_KW] else "dsmr3"
        r = reading.new()
        r["protocol"] = protocol
        r["version"] = version
        r["ts"] = v[_S_TS] if v[_S_TS] is not None else now
        imp = v[_S_P_IMP]
        exp = v[_S_P_EXP]
        r["power_import_w"] = imp
        r["power_export_w"] = exp
        total = reading.net(imp, exp)
        r["power_w"] = total
        for i in range(3):
            p = reading.net(v[_S_PL_IMP + i], v[_S_PL_EXP + i])
            r[reading.PHASE_POWER[i]] = p
            r[reading.PHASE_VOLTAGE[i]] = v[_S_VOLT + i]
            r[reading.PHASE_CURRENT[i]] = reading.signed(v[_S_CURR + i], total if p is None else p)
        r["avg_demand_w"] = v[_S_AVG]
        r["energy_import_kwh"] = _total(v, _S_E_IMP, _S_E_IMP_T)
        r["energy_export_kwh"] = _total(v, _S_E_EXP, _S_E_EXP_T)
        r["energy_import_t1_kwh"] = v[_S_E_IMP_T]
        r["energy_import_t2_kwh"] = v[_S_E_IMP_T + 1]
        r["energy_export_t1_kwh"] = v[_S_E_EXP_T]
        r["energy_export_t2_kwh"] = v[_S_E_EXP_T + 1]
        r["tariff"] = v[_S_TARIFF]
        r["peak_month_w"] = v[_S_PEAK_W]
        r["peak_month_ts"] = v[_S_PEAK_TS]
        r["peak_history"] = v[_S_HISTORY]
        r["meter_id"] = v[_S_ID] if v[_S_ID] is not None else v[_S_ID_ALT]
        for ch in range(1, _MBUS_CHANNELS + 1):
            t = self._mtype[ch]
            if self._mval[ch] is None:
                continue
            if t == _GAS and r["gas_m3"] is None:
                r["gas_m3"] = self._mval[ch]
                r["gas_ts"] = self._mts[ch]
            elif t == _WATER and r["water_m3"] is None:
                r["water_m3"] = self._mval[ch]
                r["water_ts"] = self._mts[ch]
        return r


def _total(v, total_slot, first_tariff):
    """The meter's own total when it sends one, else the sum of its tariff registers."""
    if v[total_slot] is not None:
        return v[total_slot]
    s = None
    for i in range(first_tariff, first_tariff + 4):
        if v[i] is not None:
            s = v[i] if s is None else s + v[i]
    return None if s is None else round(s, 3)


def _groups(buf, lp, e):
    """The value strings of one object line (raw map, decode tool only)."""
    out = []
    while lp >= 0:
        rp = buf.find(b")", lp, e)
        if rp < 0:
            break
        out.append(lex.ascii_text(buf, lp + 1, rp))
        lp = buf.find(b"(", rp, e)
    return out
