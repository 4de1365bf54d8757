"""The `Inepro-PRO380` register map (PRO380-Mod, holding registers). How maps are written
and loaded: modbus/templates.py."""
try:
    from micropython import const
except ImportError:
    const = int

# The type codes of modbus/templates this map uses, private: inlined, so every tuple
# below is a constant (in flash when frozen).
_F32 = const(0)
_U16 = const(2)
_U32 = const(3)

REGS = (
    (0x1010, _U16, 0x2007, 1),  # model code: PRO380-Mod
    (0x4000, _U32, "serial", 1),
    (0x4007, _F32, "version", 1), (0x4009, _F32, 1.0, 1),  # software, hardware version
    (0x5002, _F32, "voltage_l1_v", 1), (0x5004, _F32, "voltage_l2_v", 1),
    (0x5006, _F32, "voltage_l3_v", 1), (0x5008, _F32, "frequency", 1),
    (0x500A, _F32, "current_sum_a", 1), (0x500C, _F32, "current_l1_a", 1),
    (0x500E, _F32, "current_l2_a", 1), (0x5010, _F32, "current_l3_a", 1),
    (0x5012, _F32, "power_w", 0.001),
    (0x5014, _F32, "p1", 0.001), (0x5016, _F32, "p2", 0.001), (0x5018, _F32, "p3", 0.001),
    (0x501A, _F32, 0.0, 1), (0x501C, _F32, 0.0, 1), (0x501E, _F32, 0.0, 1),
    (0x5020, _F32, 0.0, 1),
    (0x5022, _F32, "s", 0.001),
    (0x5024, _F32, "s1", 0.001), (0x5026, _F32, "s2", 0.001), (0x5028, _F32, "s3", 0.001),
    (0x502A, _F32, 1.0, 1), (0x502C, _F32, 1.0, 1), (0x502E, _F32, 1.0, 1),
    (0x5030, _F32, 1.0, 1),
    (0x6000, _F32, "energy_total_kwh", 1), (0x6002, _F32, "energy_total_t1_kwh", 1),
    (0x6004, _F32, "energy_total_t2_kwh", 1),
    (0x600C, _F32, "energy_import_kwh", 1), (0x600E, _F32, "energy_import_t1_kwh", 1),
    (0x6010, _F32, "energy_import_t2_kwh", 1), (0x6012, _F32, "energy_import_l1_kwh", 1),
    (0x6014, _F32, "energy_import_l2_kwh", 1), (0x6016, _F32, "energy_import_l3_kwh", 1),
    (0x6018, _F32, "energy_export_kwh", 1), (0x601A, _F32, "energy_export_t1_kwh", 1),
    (0x601C, _F32, "energy_export_t2_kwh", 1), (0x601E, _F32, "energy_export_l1_kwh", 1),
    (0x6020, _F32, "energy_export_l2_kwh", 1), (0x6022, _F32, "energy_export_l3_kwh", 1),
)
CDAB = False
WRITABLE = ()
