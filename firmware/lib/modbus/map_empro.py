"""The `PhoenixContact-EMPro` register map (EEM-MA370/371), in the real meter's byte order:
little-endian words (floats and 32-bit values low word first, text with each register's
first character in its low byte). How maps are written and loaded: modbus/templates.py;
where the identification comes from: docs/modbus.md."""
try:
    from micropython import const
except ImportError:
    const = int

# The type codes of modbus/templates this map uses, private: inlined, so every tuple
# below is a constant (in flash when frozen).
_F32 = const(0)
_U32 = const(3)
_TEXT = const(4)

REGS = (
    # Identification, as an EEM-MA370 answers it: device name, item number, serial as text
    # (its 32-bit number in decimal) and as a number. Firmware (0x0100) and hardware
    # (0x015A) revisions: no public source gives their encoding, so they read 0.
    (0x012C, _TEXT, b"EEM-MA370", 8), (0x0134, _TEXT, b"2907983", 8),
    (0x013C, _TEXT, "serial_digits", 9), (0x0156, _U32, "serial", 1),
    (0x8006, _F32, "voltage_l1_v", 1), (0x8008, _F32, "voltage_l2_v", 1),
    (0x800A, _F32, "voltage_l3_v", 1), (0x800C, _F32, "frequency", 1),
    (0x800E, _F32, "current_l1_a", 1), (0x8010, _F32, "current_l2_a", 1),
    (0x8012, _F32, "current_l3_a", 1), (0x8016, _F32, "power_w", 1),
    (0x8018, _F32, 0.0, 1), (0x801A, _F32, "s", 1),
    (0x801E, _F32, "p1", 1), (0x8020, _F32, "p2", 1), (0x8022, _F32, "p3", 1),
    (0x8100, _F32, "energy_import_kwh", 1000), (0x8106, _F32, "energy_export_kwh", 1000),
)
CDAB = True
WRITABLE = ()
