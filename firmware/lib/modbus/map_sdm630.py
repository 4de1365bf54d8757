"""The `Eastron-SDM630` register map (SDM630 Modbus v2, input registers). How maps are
written and loaded: modbus/templates.py."""
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
    (0x0000, _F32, "voltage_l1_v", 1), (0x0002, _F32, "voltage_l2_v", 1),
    (0x0004, _F32, "voltage_l3_v", 1), (0x0006, _F32, "current_l1_a", 1),
    (0x0008, _F32, "current_l2_a", 1), (0x000A, _F32, "current_l3_a", 1),
    (0x000C, _F32, "p1", 1), (0x000E, _F32, "p2", 1), (0x0010, _F32, "p3", 1),
    (0x0012, _F32, "s1", 1), (0x0014, _F32, "s2", 1), (0x0016, _F32, "s3", 1),
    (0x0018, _F32, 0.0, 1), (0x001A, _F32, 0.0, 1), (0x001C, _F32, 0.0, 1),
    (0x001E, _F32, 1.0, 1), (0x0020, _F32, 1.0, 1), (0x0022, _F32, 1.0, 1),
    (0x0030, _F32, "current_sum_a", 1), (0x0034, _F32, "power_w", 1),
    (0x0038, _F32, "s", 1), (0x003C, _F32, 0.0, 1), (0x003E, _F32, 1.0, 1),
    (0x0046, _F32, "frequency", 1),
    (0x0048, _F32, "energy_import_kwh", 1), (0x004A, _F32, "energy_export_kwh", 1),
    (0x0054, _F32, "avg_demand_w", 1), (0x0156, _F32, "energy_total_kwh", 1),
    (0x015A, _F32, "energy_import_l1_kwh", 1), (0x015C, _F32, "energy_import_l2_kwh", 1),
    (0x015E, _F32, "energy_import_l3_kwh", 1), (0x0160, _F32, "energy_export_l1_kwh", 1),
    (0x0162, _F32, "energy_export_l2_kwh", 1), (0x0164, _F32, "energy_export_l3_kwh", 1),
    (0xFC00, _U32, "serial", 1), (0xFC02, _U16, 0x0070, 1),  # meter code 112: SDM630 v2
    (0xFC03, _U16, "version", 1),
)
CDAB = False
WRITABLE = ()
