"""DSMR 2.2-5, e-MUCS (Belgium) and A1 telegrams -> normalized reading.

The telegram is parsed in place from the framer's buffer: lines are found with find(),
OBIS codes become small ints (lex.obis_key) and numbers are read as digits + decimals
(lex.number), so a telegram allocates little more than the reading it produces.
"""
from array import array

from meter import lex, mbus, reading
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
_TEXT = const(6)  # version strings
_ID = const(7)  # equipment ids, ASCII sent as hex
_KW = const(8)  # 0-0:17.0.0: whether its unit is kW
_PEAK = const(9)  # (ts)(kW)
_HISTORY = const(10)
_MBUS = const(16)  # meter.mbus's kinds (TYPE ...) start here; their slot is the channel

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

_B = const(0x0F000000)  # the B (channel) field of a packed OBIS key
_NO_END = const(-2)  # the crc of a telegram without end line


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
    add("0-0:96.1.1", _ID, _S_ID)
    add("0-0:96.1.0", _ID, _S_ID_ALT)
    add("0-0:17.0.0", _KW, _S_LIMIT_UNIT_KW)
    for ch in range(1, mbus.CHANNELS + 1):
        for code, kind in mbus.OBJECTS:
            add("0-%d:%s" % (ch, code), kind, ch)
    return t


_TABLE = _table()
_EMPTY = (None,) * _NSLOTS
_POW10 = (1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12)
_IPOW10 = (1, 10, 100, 1000)
_LF = const(10)
_LPAREN = const(40)
_RPAREN = const(41)


def _crc_digits(buf, start, end):
    """The CRC after '!' (0, 3 or 4 hex digits in either case, then CRLF): its value,
    -1 for none."""
    n = end - start - 2
    if n < 0 or buf[end - 2] != 13 or buf[end - 1] != _LF or n not in (0, 3, 4):
        raise TelegramError("bad end line")
    v = 0
    for i in range(start, start + n):
        d = lex.hex_digit(buf[i])
        if d < 0:
            raise TelegramError("bad CRC digits")
        v = (v << 4) | d
    return v if n else -1


class DsmrParser:
    """Reusable parser: its scratch space is allocated once, not per telegram."""

    def __init__(self):
        self._v = [None] * _NSLOTS
        self._mbus = mbus.MBus()
        self._num = array("i", (0, 0, 0))
        self._texts = {}
        self._stamped = False  # the telegram has a 0-0:1.0.0 line (DSMR 4 and later)

    def parse(self, buf, n, now, raw=None):
        """Parse buf[0:n], one telegram from '/' to the LF after the CRC, or to the LF
        of its last line when it has no end line (DSMR 2.2/3.0 only).

        Returns a reading; raises TelegramError with the reason otherwise. raw, when a
        dict, receives every object as OBIS text -> list of its value strings.
        """
        if n < 4 or buf[0] != 47:
            raise TelegramError("no '/' at start")
        end = buf.rfind(b"\n!", 0, n) + 1
        if end > 0:
            crc = _crc_digits(buf, end + 1, n)
            if crc >= 0 and lex.crc16(buf, 0, end + 1) != crc:
                raise TelegramError("CRC mismatch")
        elif buf[n - 1] == _LF:
            crc = _NO_END
            end = n
        else:
            raise TelegramError("no end line")
        pos = buf.find(b"\n", 0, end) + 1
        # Without a CRC nothing else tells a telegram from the tail of one whose text
        # message held a '/': that tail's ident line closes the message's ')'.
        if crc < 0 and (pos <= 0 or buf.find(b")", 0, pos) >= 0):
            raise TelegramError("bad ident line")
        v = self._v
        v[:] = _EMPTY
        mb = self._mbus
        mb.start()
        self._stamped = False
        num = self._num
        table = _TABLE
        legacy = 0
        key_text = None
        while pos < end:
            key = lex.line(buf, pos, end, num)
            lp = num[0]
            e = num[1]
            if lp == pos:
                if legacy:
                    m = lex.number(buf, lp + 1, e, num)
                    if m >= 0:
                        mb.value[legacy] = m / _POW10[num[0]]
                    legacy = 0
                if key_text is not None:
                    raw[key_text].extend(_groups(buf, lp, e))
            elif lp > 0:
                legacy = 0
                code = table.get(key)
                if code is None and key >> 28 == 1 and key & _B:
                    # Electricity objects on another B channel count as their 1-0: form
                    # while that slot is empty; a 1-0: line always stores, so it wins.
                    code = table.get(key & ~_B)
                    if code is not None and v[code & 0xFF] is not None:
                        code = None
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
                    elif kind >= _MBUS:
                        legacy = mb.store(buf, lp + 1, e, kind, code & 0xFF, num)
                    else:
                        self._store(buf, lp, e, kind, code & 0xFF)
                if raw is not None:
                    key_text = lex.ascii_text(buf, pos, lp)
                    raw[key_text] = _groups(buf, lp, e)
            pos = e + 1
        return self._reading(crc, now)

    def _store(self, buf, lp, e, kind, slot):
        """Store one mapped object other than a number or an M-Bus device's."""
        v = self._v
        a = lp + 1
        if kind == _TS:
            v[slot] = dsmr_ts(buf, a, buf.find(b")", a, e))
            self._stamped = True
        elif kind == _INT:
            m = lex.number(buf, a, e, self._num)
            if m >= 0 and self._num[0] == 0:
                v[slot] = m
        elif kind == _TEXT or kind == _ID or kind == _KW:
            decode = lex.ascii_text if kind == _TEXT else lex.hex_text if kind == _ID else _is_kw
            v[slot] = lex.cached_text(self._texts, buf, a, buf.find(b")", a, e), slot, decode)
        elif kind == _PEAK:
            rp = buf.find(b")", a, e)
            m = lex.number(buf, rp + 2, e, self._num) if rp > 0 else -1
            if m >= 0:
                v[_S_PEAK_TS] = dsmr_ts(buf, a, rp)
                v[_S_PEAK_W] = self._watts(m)
        elif kind == _HISTORY:
            v[slot] = self._history(buf, lp, e)

    def _watts(self, m):
        """Digits m of a kW or W value (decimals and unit prefix from the last
        lex.number call) -> int W."""
        dec = self._num[0]
        if self._num[2]:
            return m * _IPOW10[3 - dec] if dec <= 3 else int(m / _POW10[dec - 3] + 0.5)
        return m if dec == 0 else int(m / _POW10[dec] + 0.5)

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

    def _reading(self, crc, now):
        """crc: its value, -1 for an end line without one, _NO_END without end line."""
        v = self._v
        version = v[_S_VERSION]
        emucs = v[_S_EMUCS]
        # Only DSMR 2.2/3.0 may lack the end line: a 0.2.8 version, an e-MUCS version or
        # a 1.0.0 time (DSMR 4 and later) means a CRC telegram was cut.
        if crc == _NO_END and (version is not None or emucs is not None or self._stamped):
            raise TelegramError("no end line")
        if emucs is not None:
            if crc < 0:
                raise TelegramError("e-MUCS telegram without CRC")
            protocol = "emucs"
            version = emucs
        elif version is not None:
            major = version[:1]
            if crc < 0 and major in ("4", "5"):
                raise TelegramError("DSMR %s telegram without CRC" % version)
            protocol = "dsmr4" if major == "4" else "dsmr5"
        elif crc >= 0:
            protocol = "dsmr5"
        else:
            protocol = "dsmr2" if v[_S_LIMIT_UNIT_KW] else "dsmr3"
        i = _S_P_IMP
        while i <= _S_HISTORY and v[i] is None:
            i += 1
        if i > _S_HISTORY and not self._mbus.has_value():
            raise TelegramError("no meter values")
        r = reading.new()
        r["protocol"] = protocol
        r["version"] = version
        r["ts"] = v[_S_TS] if v[_S_TS] is not None else now
        # Without a total the meter's per-phase values add up to it.
        imp = v[_S_P_IMP] if v[_S_P_IMP] is not None else _sum(v, _S_PL_IMP, 3)
        exp = v[_S_P_EXP] if v[_S_P_EXP] is not None else _sum(v, _S_PL_EXP, 3)
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
        self._mbus.add_to(r)
        return r


def _sum(v, first, count):
    """The sum of the slots that hold a value, None when none does."""
    s = None
    for i in range(first, first + count):
        if v[i] is not None:
            s = v[i] if s is None else s + v[i]
    return s


def _total(v, total_slot, first_tariff):
    """The meter's own total when it sends one, else the sum of its tariff registers."""
    if v[total_slot] is not None:
        return v[total_slot]
    s = _sum(v, first_tariff, 4)
    return None if s is None else round(s, 3)


def _is_kw(buf, a, b):
    return buf.find(b"*kW", a, b) > 0


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
