"""The `PhoenixContact-EMPro` register map (EEM-MA370/371; floats in word order CDAB, as
the real meter). How maps are written and loaded: modbus/templates.py."""
try:
    from micropython import const
except ImportError:
    const = int

# The type codes of modbus/templates, private: inlined, so every tuple below is a constant
# (in flash when frozen).
_F32 = const(0)
_S32L = const(1)
_U16 = const(2)
_U32 = const(3)
_TEXT = const(4)

REGS = (
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
