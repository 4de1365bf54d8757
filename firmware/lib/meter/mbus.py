"""The M-Bus devices behind a DSMR meter (gas, water, heat: channels 1-4) -> the
reading's `mbus` list and its gas and water keys.

Objects of channel n are 0-n:C.D.E (OBJECTS); the DSMR parser maps them with the channel
as their slot and passes them to MBus.store. A device's reading changes every 5 minutes
at most while telegrams come every second, so what a device sent is kept across
telegrams: unchanged bytes reuse their parsed values and the last `mbus` list, and a
telegram allocates nothing for its devices.
"""
from array import array

from meter import lex
from meter.timeconv import dsmr_ts

try:
    from micropython import const
except ImportError:
    const = int

CHANNELS = const(4)

# Kinds of M-Bus objects, numbered after the DSMR parser's own (from its _MBUS).
TYPE = const(16)  # 24.1.0: device type
ID = const(17)  # 96.1.0, e-MUCS 96.1.1: equipment id
VALUE = const(18)  # 24.2.1 / 24.2.3: (ts)(value*unit)
LEGACY = const(19)  # DSMR 2.2/3.0 24.3.0: (ts)(..)(..)(..)(obis)(unit), (value) on the next line

OBJECTS = (("24.1.0", TYPE), ("96.1.0", ID), ("96.1.1", ID),
           ("24.2.1", VALUE), ("24.2.3", VALUE), ("24.3.0", LEGACY))

# Bits of what a channel sent in the telegram being parsed.
_T = const(1)
_I = const(2)
_V = const(4)
_ZEROS = (0,) * (CHANNELS + 1)
_GAS = const(3)
_WATER = const(7)
_STAR = const(42)
_NUM = array("i", (0, 0, 0))


def _value(buf, a, e):
    """(ts)(value*unit) -> (value, unit, ts); None for a value without a unit, the
    meter's placeholder for an absent device."""
    rp = buf.find(b")", a, e)
    num = _NUM
    m = lex.number(buf, rp + 2, e, num) if rp > 0 else -1
    if m < 0 or buf[num[1]] != _STAR:
        return None
    u = num[1] + 1
    b = buf.find(b")", u, e)
    return m / 10 ** num[0], lex.ascii_text(buf, u, b) if b > u else None, dsmr_ts(buf, a, rp)


class MBus:
    """What each channel sent, kept from telegram to telegram."""

    def __init__(self):
        self.type = [None] * (CHANNELS + 1)
        self.id = [None] * (CHANNELS + 1)
        self.value = [None] * (CHANNELS + 1)
        self.unit = [None] * (CHANNELS + 1)
        self.ts = [None] * (CHANNELS + 1)
        self._sent = [0] * (CHANNELS + 1)
        self._was = [0] * (CHANNELS + 1)  # _sent when the list was made
        self._group = [None] * (CHANNELS + 1)  # the parsed (value, unit, ts) in use
        self._dirty = True  # a value changed since the list was made
        self._list = None
        self._gas = 0  # the channels gas and water come from
        self._water = 0
        self._texts = {}

    def start(self):
        """A new telegram."""
        self._sent[:] = _ZEROS

    def store(self, buf, a, e, kind, ch, num):
        """One object of channel ch, its value groups from a (after '(') to e. Returns ch
        when its value follows on the next line (LEGACY), else 0. num: lex.number's out."""
        if kind == TYPE:
            m = lex.number(buf, a, e, num)
            if m >= 0:
                self._sent[ch] |= _T
                if m != self.type[ch]:
                    self.type[ch] = m
                    self._dirty = True
            return 0
        rp = buf.find(b")", a, e)
        if kind == ID:
            if rp > a:  # "()": no device there
                self._sent[ch] |= _I
                text = lex.cached_text(self._texts, buf, a, rp, ch, lex.hex_text)
                if text is not self.id[ch]:
                    self.id[ch] = text
                    self._dirty = True
            return 0
        if kind == VALUE:
            g = lex.cached_text(self._texts, buf, a, e, ch + CHANNELS, _value)
            if g is not None:
                self._sent[ch] |= _V
                if g is not self._group[ch]:
                    self._group[ch] = g
                    self.value[ch], self.unit[ch], self.ts[ch] = g
                    self._dirty = True
            return 0
        u = buf.rfind(b"(", a, e) + 1
        self._sent[ch] |= _V
        self._group[ch] = None
        self.value[ch] = None  # until the next line
        self.unit[ch] = lex.ascii_text(buf, u, buf.find(b")", u, e))
        self.ts[ch] = dsmr_ts(buf, a, rp)
        self._dirty = True
        return ch

    def add_to(self, r):
        """r's `mbus` (the devices seen, in channel order; None when there is none), and
        gas and water: the first device of type 003 / 007 that sent a value."""
        if self._dirty or self._sent != self._was:
            self._update()
        if self._gas:
            r["gas_m3"] = self.value[self._gas]
            r["gas_ts"] = self.ts[self._gas]
        if self._water:
            r["water_m3"] = self.value[self._water]
            r["water_ts"] = self.ts[self._water]
        r["mbus"] = self._list

    def _update(self):
        """Forget what this telegram did not send; a new list, gas and water."""
        self._was[:] = self._sent
        self._dirty = False
        self._gas = self._water = 0
        out = []
        for ch in range(1, CHANNELS + 1):
            sent = self._sent[ch]
            if not sent & _T:
                self.type[ch] = None
            if not sent & _I:
                self.id[ch] = None
            if not sent & _V:
                self.value[ch] = self.unit[ch] = self.ts[ch] = self._group[ch] = None
            t = self.type[ch]
            if self.value[ch] is not None:
                if t == _GAS and not self._gas:
                    self._gas = ch
                elif t == _WATER and not self._water:
                    self._water = ch
            if t is not None or self.id[ch] is not None or self.value[ch] is not None:
                out.append({"channel": ch, "type": t, "id": self.id[ch],
                            "value": self.value[ch], "unit": self.unit[ch],
                            "ts": self.ts[ch]})
        self._list = out or None

    def has_value(self):
        """Whether this telegram sent a device's value."""
        for ch in range(1, CHANNELS + 1):
            if self._sent[ch] & _V and self.value[ch] is not None:
                return True
        return False
