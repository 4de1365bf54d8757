"""The RS485 slave's configuration register block (docs/modbus.md): holding registers
read with FC03 and written one at a time with FC06. Written values wait; a write to the
reboot register saves them in the configuration and restarts the device, as the P1MB
manual has it, so the master can change the address and the line settings it talks over
in any order. A value the configuration schema refuses answers exception 03 and changes
nothing.
"""
try:
    from micropython import const
except ImportError:
    const = int

from device import schema
from modbus import pdu
from modbus.templates import TEMPLATES  # their codes: fixed, new templates are appended

BASE = const(0xE000)
REBOOT = const(BASE + 5)
SIZE = const(6)
PARITIES = ("N", "O", "E")
# Register offset -> configuration field.
_FIELDS = (("RS485", "Address"), ("RS485", "Baud"), ("RS485", "Parity"), ("MeterType",),
           ("Modbus", "StaleAfter"))


def _encode(field, v):
    if field == 1:
        return v // 100
    if field == 2:
        return PARITIES.index(v)
    if field == 3:
        return TEMPLATES.index(v) if v in TEMPLATES else 0xFFFF
    return v


def _decode(field, v):
    if field == 1:
        return v * 100
    if field == 2:
        return PARITIES[v] if v < len(PARITIES) else None
    if field == 3:
        return TEMPLATES[v] if v < len(TEMPLATES) else None
    return v


class ConfigBlock:
    def __init__(self, config):
        self._config = config  # config(): the configuration in force (the API may change it)
        self.changes = {}  # written, saved at the reboot: {"RS485": {"Address": 5}, ...}
        self.reboot = False

    def _shown(self):
        """The configuration in force with the written values: what reads show."""
        if self.changes:
            new, _ = schema.patch(self._config(), self.changes)
            if new is not None:
                return new
        return self._config()

    def answer(self, req, i, out):
        """An FC03 read inside the block into out[1:] (any staleness): the PDU's length;
        0 when req[i:i+5] is not such a read."""
        addr = req[i + 1] << 8 | req[i + 2]
        qty = req[i + 3] << 8 | req[i + 4]
        if req[i] != pdu.READ_HOLDING or addr < BASE or qty < 1 or addr + qty > BASE + SIZE:
            return 0
        out[1] = pdu.READ_HOLDING
        out[2] = 2 * qty
        cfg = self._shown()
        for k in range(qty):
            f = addr - BASE + k
            v = 0 if f == SIZE - 1 else _encode(f, schema.get(cfg, _FIELDS[f]))
            out[3 + 2 * k] = v >> 8
            out[4 + 2 * k] = v & 0xFF
        return 2 + 2 * qty

    def write(self, addr, value):
        """FC06: 0, or the exception code. Nothing changes on an exception."""
        if addr == REBOOT:
            if value != 1:
                return pdu.ILLEGAL_VALUE
            self.reboot = True
            return 0
        f = addr - BASE
        if f < 0 or f >= SIZE - 1:
            return pdu.ILLEGAL_ADDRESS
        v = _decode(f, value)
        if v is None:
            return pdu.ILLEGAL_VALUE
        path = _FIELDS[f]
        trial = schema.copy(self.changes)
        d = trial
        for k in path[:-1]:
            d = d.setdefault(k, {})
        d[path[-1]] = v
        if schema.patch(self._config(), trial)[1]:
            return pdu.ILLEGAL_VALUE
        self.changes = trial
        return 0
