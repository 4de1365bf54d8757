"""The meter register maps we serve: one module per template (modbus/map_*.py), imported
only when that template is in use, so the others take no heap (docs/modbus-registers.md is
generated from them by tools/regdoc.py; a test keeps the two equal).

A map module holds constant tuples only (in flash when frozen): REGS, each register
(address, type, source, scale), source a reading key, a value derived in registers.py
("p1".."p3", "s1".."s3", "s", "frequency", "current_sum_a", "energy_total*", "serial",
"serial_digits", "version") or a constant (text as bytes); CDAB, the meter's word order:
True for a meter that sends its little-endian memory word by word (the EMpro), F32 and
U32 low word first and TEXT with each register's first character in its low byte;
WRITABLE, the registers a client may write with FC06: (address, lowest, highest, value at
start). Where each map comes from (the real meters' manuals and the clients that read
them): docs/modbus.md.
"""
from device.modules import forget

try:
    from micropython import const
except ImportError:
    const = int

F32 = const(0)  # IEEE 754 float, two registers (word order per template)
S32L = const(1)  # signed 32-bit integer of value * scale, low word first
U16 = const(2)  # unsigned 16-bit integer of value * scale
U32 = const(3)  # unsigned 32-bit integer, high word first (CDAB: low word first)
TEXT = const(4)  # ASCII, two characters a register, scale = registers, NUL-padded

# The order is each template's code in the RS485 configuration block: append only.
TEMPLATES = ("PhoenixContact-EMPro", "Eastron-SDM630", "Inepro-PRO380", "CarloGavazzi-EM24")
_MODULES = ("map_empro", "map_sdm630", "map_pro380", "map_em24")
DEFAULT = "PhoenixContact-EMPro"


def load(name):
    """(REGS, CDAB, WRITABLE) of a template, importing its module."""
    m = __import__("modbus." + _MODULES[TEMPLATES.index(name)], None, None, ("REGS",))
    return m.REGS, m.CDAB, m.WRITABLE


def unload(name):
    """Forget a template's module once it is laid out: its heap is freed once unused."""
    forget("modbus." + _MODULES[TEMPLATES.index(name)])
