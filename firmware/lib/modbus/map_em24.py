"""The `CarloGavazzi-EM24` register map (the EM24 Ethernet, as Victron GX reads it). How
maps are written and loaded: modbus/templates.py."""
try:
    from micropython import const
except ImportError:
    const = int

# The type codes of modbus/templates this map uses, private: inlined, so every tuple
# below is a constant (in flash when frozen).
_S32L = const(1)
_U16 = const(2)
_TEXT = const(4)

REGS = (
    (0x0000, _S32L, "voltage_l1_v", 10), (0x0002, _S32L, "voltage_l2_v", 10),
    (0x0004, _S32L, "voltage_l3_v", 10),
    (0x000B, _U16, 1648, 1),  # model code: EM24DINAV23XE1X (EM24 Ethernet)
    (0x000C, _S32L, "current_l1_a", 1000), (0x000E, _S32L, "current_l2_a", 1000),
    (0x0010, _S32L, "current_l3_a", 1000),
    (0x0012, _S32L, "p1", 10), (0x0014, _S32L, "p2", 10), (0x0016, _S32L, "p3", 10),
    (0x0018, _S32L, "s1", 10), (0x001A, _S32L, "s2", 10), (0x001C, _S32L, "s3", 10),
    (0x001E, _S32L, 0, 1), (0x0020, _S32L, 0, 1), (0x0022, _S32L, 0, 1),
    (0x0028, _S32L, "power_w", 10), (0x002A, _S32L, "s", 10), (0x002C, _S32L, 0, 1),
    (0x002E, _U16, 1.0, 1000), (0x002F, _U16, 1.0, 1000), (0x0030, _U16, 1.0, 1000),
    (0x0031, _U16, 1.0, 1000),
    (0x0032, _U16, 0, 1),  # phase sequence: L1-L2-L3
    (0x0033, _U16, "frequency", 10),
    (0x0034, _S32L, "energy_import_kwh", 10),
    (0x0040, _S32L, "energy_import_l1_kwh", 10), (0x0042, _S32L, "energy_import_l2_kwh", 10),
    (0x0044, _S32L, "energy_import_l3_kwh", 10), (0x004E, _S32L, "energy_export_kwh", 10),
    (0x0302, _U16, 0x1000, 1),  # hardware version 1.0.0 (v >> 12, v >> 8 & 15, v & 255)
    (0x0304, _U16, "version", 1),  # firmware version: ours, in the same form
    (0x1002, _U16, 0, 1),  # phase configuration: 3P.n
    (0x5000, _TEXT, "serial", 7),
    (0xA100, _U16, 3, 1),  # front selector: locked
)
CDAB = False
# (address, lowest, highest, value at start): registers a client may write with FC06.
# The EM24's application register: Victron's driver writes 7 (H) unless it reads 7.
WRITABLE = ((0xA000, 0, 7, 7),)
