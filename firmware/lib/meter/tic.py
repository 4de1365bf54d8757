"""Linky TIC frames (historique and standard, Enedis-NOI-CPT_54E) -> normalized reading.

A frame is STX, groups LF..CR, ETX. Every group carries a checksum; one bad group
rejects the whole frame, so a served value never mixes good and corrupt groups.
"""
from array import array

from meter import lex, reading
from meter.timeconv import tic_ts

try:
    from micropython import const
except ImportError:
    const = int


class FrameError(ValueError):
    """A frame that must not change any served value; the message says why."""


_STX = const(2)
_ETX = const(3)
_LF = const(10)
_HT = const(9)
_SP = const(32)

# Slots filled while parsing one frame.
_S_ID = const(0)
_S_VERSION = const(1)
_S_TS = const(2)
_S_P_IMP = const(3)  # PAPP / SINSTS
_S_P_EXP = const(4)  # SINSTI
_S_PL = const(5)  # 5..7 SINSTS1-3
_S_CURR = const(8)  # 8..10 IINST1-3 / IRMS1-3
_S_VOLT = const(11)  # 11..13 URMS1-3
_S_E_IMP = const(14)  # EAST, or the sum of historique indexes
_S_E_EXP = const(15)  # EAIT
_S_E_T1 = const(16)
_S_E_T2 = const(17)
_S_TARIFF = const(18)
_S_CURR_1PH = const(19)  # IINST on single-phase historique meters
_NSLOTS = const(20)

_TEXT = const(1)
_WH = const(2)  # index in Wh, added to the import total
_INT = const(3)
_FLOAT = const(4)
_TS = const(5)
_PTEC = const(6)

# label, kind, slot (-1: none of its own), whether it adds to the historique import total
_LABELS = (
    (b"ADCO", _TEXT, _S_ID, 0), (b"ADSC", _TEXT, _S_ID, 0), (b"VTIC", _TEXT, _S_VERSION, 0),
    (b"DATE", _TS, _S_TS, 0),
    (b"PAPP", _INT, _S_P_IMP, 0), (b"SINSTS", _INT, _S_P_IMP, 0),
    (b"SINSTI", _INT, _S_P_EXP, 0),
    (b"SINSTS1", _INT, _S_PL, 0), (b"SINSTS2", _INT, _S_PL + 1, 0),
    (b"SINSTS3", _INT, _S_PL + 2, 0),
    (b"IINST", _FLOAT, _S_CURR_1PH, 0),
    (b"IINST1", _FLOAT, _S_CURR, 0), (b"IINST2", _FLOAT, _S_CURR + 1, 0),
    (b"IINST3", _FLOAT, _S_CURR + 2, 0),
    (b"IRMS1", _FLOAT, _S_CURR, 0), (b"IRMS2", _FLOAT, _S_CURR + 1, 0),
    (b"IRMS3", _FLOAT, _S_CURR + 2, 0),
    (b"URMS1", _FLOAT, _S_VOLT, 0), (b"URMS2", _FLOAT, _S_VOLT + 1, 0),
    (b"URMS3", _FLOAT, _S_VOLT + 2, 0),
    (b"EAST", _WH, _S_E_IMP, 0), (b"EAIT", _WH, _S_E_EXP, 0),
    (b"EASF01", _WH, _S_E_T1, 0), (b"EASF02", _WH, _S_E_T2, 0),
    (b"NTARF", _INT, _S_TARIFF, 0), (b"PTEC", _PTEC, _S_TARIFF, 0),
    # Historique indexes: base/off-peak is tariff 1, peak tariff 2, Tempo has no t1/t2.
    (b"BASE", _WH, _S_E_T1, 1), (b"HCHC", _WH, _S_E_T1, 1), (b"HCHP", _WH, _S_E_T2, 1),
    (b"EJPHN", _WH, _S_E_T1, 1), (b"EJPHPM", _WH, _S_E_T2, 1),
    (b"BBRHCJB", _WH, -1, 1), (b"BBRHPJB", _WH, -1, 1), (b"BBRHCJW", _WH, -1, 1),
    (b"BBRHPJW", _WH, -1, 1), (b"BBRHCJR", _WH, -1, 1), (b"BBRHPJR", _WH, -1, 1),
)
# PTEC period -> tariff number (Tempo: blue/white/red days, off-peak then peak).
_PTEC_TARIFF = {b"TH..": 1, b"HC..": 1, b"HP..": 2, b"HN..": 1, b"PM..": 2,
                b"HCJB": 1, b"HPJB": 2, b"HCJW": 3, b"HPJW": 4, b"HCJR": 5, b"HPJR": 6}


def _label_table():
    """label hash -> position in _LABELS (small ints: the dict is the only allocation;
    the labels themselves are constants of the frozen module)."""
    t = {}
    for i, entry in enumerate(_LABELS):
        h = lex.label_hash_py(entry[0], 0, len(entry[0]))
        assert h not in t, entry[0]
        t[h] = i
    return t


_TABLE = _label_table()


class TicParser:
    """Reusable parser: its scratch space is allocated once, not per frame."""

    def __init__(self):
        self._v = [None] * _NSLOTS
        self._num = array("i", (0, 0, 0))
        self._id = (b"", None)

    def parse(self, buf, n, now, raw=None):
        """Parse buf[0:n], one frame from STX to ETX. Returns a reading or raises
        FrameError. raw, when a dict, receives label -> [data] or [horodate, data]."""
        if n < 2 or buf[0] != _STX or buf[n - 1] != _ETX:
            raise FrameError("not framed by STX/ETX")
        standard = buf.find(b"\t", 1, n) >= 0
        sep = _HT if standard else _SP
        v = self._v
        for i in range(_NSLOTS):
            v[i] = None
        end = n - 1
        pos = 1
        groups = 0
        while pos < end:
            if buf[pos] != _LF:
                raise FrameError("group without LF")
            cr = buf.find(b"\r", pos, end)
            a = pos + 1
            if cr < a + 4 or buf[cr - 2] != sep:
                raise FrameError("malformed group")
            # Standard sums up to and including the separator before the checksum.
            if lex.tic_sum(buf, a, cr - 1 if standard else cr - 2) != buf[cr - 1]:
                raise FrameError("checksum error in group %d" % (groups + 1))
            s1 = buf.find(b"\t" if standard else b" ", a, cr - 2)
            if s1 <= a:
                raise FrameError("group without label")
            d = s1 + 1
            h = -1
            if standard:
                s2 = buf.find(b"\t", d, cr - 2)
                if s2 >= 0:
                    h = d
                    d = s2 + 1
            self._store(buf, a, s1, h, d, cr - 2)
            if raw is not None:
                vals = [lex.ascii_text(buf, d, cr - 2)]
                if h >= 0:
                    vals.insert(0, lex.ascii_text(buf, h, d - 1))
                raw[lex.ascii_text(buf, a, s1)] = vals
            groups += 1
            pos = cr + 1
        if not groups:
            raise FrameError("empty frame")
        return self._reading(standard, now)

    def _store(self, buf, a, s1, h, d, e):
        i = _TABLE.get(lex.label_hash(buf, a, s1))
        if i is None:
            return
        label, kind, slot, index = _LABELS[i]
        if s1 - a != len(label) or buf.find(label, a, s1) != a:
            return
        v = self._v
        if kind == _TS:
            v[slot] = tic_ts(buf, h, d - 1) if h >= 0 else None
        elif kind == _TEXT:
            v[slot] = self._text(buf, d, e)
        elif kind == _PTEC:
            v[slot] = _PTEC_TARIFF.get(bytes(buf[d:e]))
        else:
            m = lex.number(buf, d, e, self._num)
            if m < 0 or self._num[1] != e:
                return
            if kind == _FLOAT:
                v[slot] = float(m) if not self._num[0] else m / 10 ** self._num[0]
            elif kind == _INT:
                v[slot] = m
            else:
                if index:
                    v[_S_E_IMP] = m if v[_S_E_IMP] is None else v[_S_E_IMP] + m
                if slot >= 0:
                    v[slot] = m

    def _text(self, buf, a, b):
        """Ids repeat in every frame: decode once, reuse while the bytes match."""
        src, text = self._id
        if len(src) == b - a and buf.find(src, a, b) == a:
            return text
        text = lex.ascii_text(buf, a, b)
        self._id = (bytes(buf[a:b]), text)
        return text

    def _reading(self, standard, now):
        v = self._v
        i = _S_P_IMP
        while i < _NSLOTS and v[i] is None:
            i += 1
        if i == _NSLOTS:
            raise FrameError("no meter values")
        r = reading.new()
        r["protocol"] = "tic-standard" if standard else "tic-historique"
        r["ts"] = v[_S_TS] if v[_S_TS] is not None else now
        r["meter_id"] = v[_S_ID]
        r["version"] = v[_S_VERSION]
        imp = v[_S_P_IMP]
        exp = v[_S_P_EXP]
        total = reading.net(imp, exp)
        r["power_import_w"] = imp
        r["power_export_w"] = exp
        r["power_w"] = total
        if v[_S_CURR_1PH] is not None:
            v[_S_CURR] = v[_S_CURR_1PH]
        three_phase = v[_S_CURR + 1] is not None
        for i in range(3):
            p = v[_S_PL + i]
            if p is not None and total is not None and total < 0:
                p = 0
            if i == 0 and not three_phase:
                p = total
            r[reading.PHASE_POWER[i]] = p
            r[reading.PHASE_VOLTAGE[i]] = v[_S_VOLT + i]
            # The meter gives no per-phase direction: currents follow the net power.
            r[reading.PHASE_CURRENT[i]] = reading.signed(v[_S_CURR + i], total)
        r["energy_import_kwh"] = _kwh(v[_S_E_IMP])
        r["energy_export_kwh"] = _kwh(v[_S_E_EXP])
        r["energy_import_t1_kwh"] = _kwh(v[_S_E_T1])
        r["energy_import_t2_kwh"] = _kwh(v[_S_E_T2])
        r["tariff"] = v[_S_TARIFF]
        return r


def _kwh(wh):
    return None if wh is None else wh / 1000
