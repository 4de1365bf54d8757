"""The meter register maps we serve (docs/modbus-registers.md is generated from them by
tools/regdoc.py; a test keeps the two equal).

Constant tuples only: frozen into the image they stay in flash, and registers.py lays out
only the template in use. Each register is (address, type, source, scale): source is a
reading key, a value derived in registers.py ("p1".."p3", "s1".."s3", "s", "frequency",
"current_sum_a", "energy_total*", "serial", "version") or a constant. Where each map comes
from (the real meters' manuals and the clients that read them): docs/modbus.md.
"""
try:
    from micropython import const
except ImportError:
    const = int

F32 = const(0)  # IEEE 754 float, two registers (word order per template)
S32L = const(1)  # signed 32-bit integer of value * scale, low word first
U16 = const(2)  # unsigned 16-bit integer of value * scale
U32 = const(3)  # unsigned 32-bit integer, high word first
TEXT = const(4)  # ASCII, two characters a register, scale = registers, NUL-padded

# Power factor registers hold 1.0 (the meters send none): written as literals, so each
# tuple stays a constant the frozen image keeps in flash.

_EMPRO = (
    (0x8006, F32, "voltage_l1_v", 1), (0x8008, F32, "voltage_l2_v", 1),
    (0x800A, F32, "voltage_l3_v", 1), (0x800C, F32, "frequency", 1),
    (0x800E, F32, "current_l1_a", 1), (0x8010, F32, "current_l2_a", 1),
    (0x8012, F32, "current_l3_a", 1), (0x8016, F32, "power_w", 1),
    (0x8018, F32, 0.0, 1), (0x801A, F32, "s", 1),
    (0x801E, F32, "p1", 1), (0x8020, F32, "p2", 1), (0x8022, F32, "p3", 1),
    (0x8100, F32, "energy_import_kwh", 1000), (0x8106, F32, "energy_export_kwh", 1000),
)
_SDM630 = (
    (0x0000, F32, "voltage_l1_v", 1), (0x0002, F32, "voltage_l2_v", 1),
    (0x0004, F32, "voltage_l3_v", 1), (0x0006, F32, "current_l1_a", 1),
    (0x0008, F32, "current_l2_a", 1), (0x000A, F32, "current_l3_a", 1),
    (0x000C, F32, "p1", 1), (0x000E, F32, "p2", 1), (0x0010, F32, "p3", 1),
    (0x0012, F32, "s1", 1), (0x0014, F32, "s2", 1), (0x0016, F32, "s3", 1),
    (0x0018, F32, 0.0, 1), (0x001A, F32, 0.0, 1), (0x001C, F32, 0.0, 1),
    (0x001E, F32, 1.0, 1), (0x0020, F32, 1.0, 1), (0x0022, F32, 1.0, 1),
    (0x0030, F32, "current_sum_a", 1), (0x0034, F32, "power_w", 1),
    (0x0038, F32, "s", 1), (0x003C, F32, 0.0, 1), (0x003E, F32, 1.0, 1),
    (0x0046, F32, "frequency", 1),
    (0x0048, F32, "energy_import_kwh", 1), (0x004A, F32, "energy_export_kwh", 1),
    (0x0054, F32, "avg_demand_w", 1), (0x0156, F32, "energy_total_kwh", 1),
    (0x015A, F32, "energy_import_l1_kwh", 1), (0x015C, F32, "energy_import_l2_kwh", 1),
    (0x015E, F32, "energy_import_l3_kwh", 1), (0x0160, F32, "energy_export_l1_kwh", 1),
    (0x0162, F32, "energy_export_l2_kwh", 1), (0x0164, F32, "energy_export_l3_kwh", 1),
    (0xFC00, U32, "serial", 1), (0xFC02, U16, 0x0070, 1),  # meter code 112: SDM630 v2
    (0xFC03, U16, "version", 1),
)
_PRO380 = (
    (0x1010, U16, 0x2007, 1),  # model code: PRO380-Mod
    (0x4000, U32, "serial", 1),
    (0x4007, F32, "version", 1), (0x4009, F32, 1.0, 1),  # software, hardware version
    (0x5002, F32, "voltage_l1_v", 1), (0x5004, F32, "voltage_l2_v", 1),
    (0x5006, F32, "voltage_l3_v", 1), (0x5008, F32, "frequency", 1),
    (0x500A, F32, "current_sum_a", 1), (0x500C, F32, "current_l1_a", 1),
    (0x500E, F32, "current_l2_a", 1), (0x5010, F32, "current_l3_a", 1),
    (0x5012, F32, "power_w", 0.001),
    (0x5014, F32, "p1", 0.001), (0x5016, F32, "p2", 0.001), (0x5018, F32, "p3", 0.001),
    (0x501A, F32, 0.0, 1), (0x501C, F32, 0.0, 1), (0x501E, F32, 0.0, 1),
    (0x5020, F32, 0.0, 1),
    (0x5022, F32, "s", 0.001),
    (0x5024, F32, "s1", 0.001), (0x5026, F32, "s2", 0.001), (0x5028, F32, "s3", 0.001),
    (0x502A, F32, 1.0, 1), (0x502C, F32, 1.0, 1), (0x502E, F32, 1.0, 1),
    (0x5030, F32, 1.0, 1),
    (0x6000, F32, "energy_total_kwh", 1), (0x6002, F32, "energy_total_t1_kwh", 1),
    (0x6004, F32, "energy_total_t2_kwh", 1),
    (0x600C, F32, "energy_import_kwh", 1), (0x600E, F32, "energy_import_t1_kwh", 1),
    (0x6010, F32, "energy_import_t2_kwh", 1), (0x6012, F32, "energy_import_l1_kwh", 1),
    (0x6014, F32, "energy_import_l2_kwh", 1), (0x6016, F32, "energy_import_l3_kwh", 1),
    (0x6018, F32, "energy_export_kwh", 1), (0x601A, F32, "energy_export_t1_kwh", 1),
    (0x601C, F32, "energy_export_t2_kwh", 1), (0x601E, F32, "energy_export_l1_kwh", 1),
    (0x6020, F32, "energy_export_l2_kwh", 1), (0x6022, F32, "energy_export_l3_kwh", 1),
)
_EM24 = (
    (0x0000, S32L, "voltage_l1_v", 10), (0x0002, S32L, "voltage_l2_v", 10),
    (0x0004, S32L, "voltage_l3_v", 10),
    (0x000B, U16, 1648, 1),  # model code: EM24DINAV23XE1X (EM24 Ethernet)
    (0x000C, S32L, "current_l1_a", 1000), (0x000E, S32L, "current_l2_a", 1000),
    (0x0010, S32L, "current_l3_a", 1000),
    (0x0012, S32L, "p1", 10), (0x0014, S32L, "p2", 10), (0x0016, S32L, "p3", 10),
    (0x0018, S32L, "s1", 10), (0x001A, S32L, "s2", 10), (0x001C, S32L, "s3", 10),
    (0x001E, S32L, 0, 1), (0x0020, S32L, 0, 1), (0x0022, S32L, 0, 1),
    (0x0028, S32L, "power_w", 10), (0x002A, S32L, "s", 10), (0x002C, S32L, 0, 1),
    (0x002E, U16, 1.0, 1000), (0x002F, U16, 1.0, 1000), (0x0030, U16, 1.0, 1000),
    (0x0031, U16, 1.0, 1000),
    (0x0032, U16, 0, 1),  # phase sequence: L1-L2-L3
    (0x0033, U16, "frequency", 10),
    (0x0034, S32L, "energy_import_kwh", 10),
    (0x0040, S32L, "energy_import_l1_kwh", 10), (0x0042, S32L, "energy_import_l2_kwh", 10),
    (0x0044, S32L, "energy_import_l3_kwh", 10), (0x004E, S32L, "energy_export_kwh", 10),
    (0x0302, U16, 0x1000, 1),  # hardware version 1.0.0 (v >> 12, v >> 8 & 15, v & 255)
    (0x0304, U16, "version", 1),  # firmware version: ours, in the same form
    (0x1002, U16, 0, 1),  # phase configuration: 3P.n
    (0x5000, TEXT, "serial", 7),
    (0xA100, U16, 3, 1),  # front selector: locked
)
# (address, lowest, highest, value at start): registers a client may write with FC06.
# The EM24's application register: Victron's driver writes 7 (H) unless it reads 7.
_EM24_WRITABLE = ((0xA000, 0, 7, 7),)

# name -> (registers, float word order CDAB?, writable registers)
TEMPLATES = {
    "PhoenixContact-EMPro": (_EMPRO, True, ()),
    "Eastron-SDM630": (_SDM630, False, ()),
    "Inepro-PRO380": (_PRO380, False, ()),
    "CarloGavazzi-EM24": (_EM24, False, _EM24_WRITABLE),
}
DEFAULT = "PhoenixContact-EMPro"
