"""Writes docs/modbus-registers.md from the template definitions (firmware/lib/modbus/
map_*.py, listed in templates.py), so the register tables and the code cannot drift:
host_tests/test_regdoc.py fails when the committed file differs from what this prints.

    .venv/bin/python tools/regdoc.py > docs/modbus-registers.md
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "firmware",
                                "lib"))

from modbus import templates  # noqa: E402
from modbus.templates import F32, S32L, TEXT, U16, U32  # noqa: E402

_TYPES = {F32: "float32", S32L: "int32, low word first", U16: "uint16",
          U32: "uint32, high word first", TEXT: "ASCII"}
# In a CDAB template (the EMpro's little-endian words): kind -> its type there.
_TYPES_CDAB = {U32: "uint32, low word first",
               TEXT: "ASCII, each register's first character in its low byte"}
_PHASE = {"p": "active power L%s (W, signed), summing to the total",
          "s": "apparent power L%s (VA): the magnitude of active power L%s (power factor 1)"}
_SOURCES = {
    "power_w": "total active power (W, import positive)",
    "s": "total apparent power (VA): the magnitude of the total active power",
    "frequency": "frequency (Hz): always 50.0, the meters do not send it",
    "current_sum_a": "sum of the phase currents' magnitudes (A)",
    "avg_demand_w": "average demand (W, e-MUCS `1.4.0`)",
    "serial": "serial number, from the device serial",
    "serial_digits": "serial number as decimal text: the 32-bit serial number's digits",
}
_FORMS = {("voltage", "v"): "voltage %s (V)", ("current", "a"): "current %s (A, signed)",
          ("energy_import", "kwh"): "energy import %s (kWh)",
          ("energy_export", "kwh"): "energy export %s (kWh)",
          ("energy_total", "kwh"): "energy import + export %s (kWh)"}
# What a constant register is, per template and address.
_CONSTANTS = {
    ("PhoenixContact-EMPro", 0x012C): "device name: `EEM-MA370`",
    ("PhoenixContact-EMPro", 0x0134): "item number: `2907983` (EEM-MA370)",
    ("Eastron-SDM630", 0xFC02): "meter code: 112 (0x0070, SDM630 Modbus v2)",
    ("Inepro-PRO380", 0x1010): "model code: 0x2007 (PRO380-Mod)",
    ("Inepro-PRO380", 0x4009): "hardware version: 1.0",
    ("CarloGavazzi-EM24", 0x000B): "model code: 1648 (EM24DINAV23XE1X, the EM24 Ethernet)",
    ("CarloGavazzi-EM24", 0x0032): "phase sequence: 0 (L1-L2-L3)",
    ("CarloGavazzi-EM24", 0x0302): "hardware version: 0x1000 (1.0.0)",
    ("CarloGavazzi-EM24", 0x1002): "phase configuration: 0 (3P.n)",
    ("CarloGavazzi-EM24", 0xA100): "front selector: 3 (locked)",
}
_HEADS = {
    "PhoenixContact-EMPro": "EEM-MA370/371, the default. Sources: SPEC section 4, OpenEMS "
    "`io.openems.edge.meter.phoenixcontact`; identification: Phoenix Contact's EMpro "
    "register table (as Bouni/empro_exporter `registers.py` lists it) and its data types "
    "(EMpro online help, user manual 109357_en_00 section 11.6). Firmware (0x0100) and "
    "hardware (0x015A) revisions read 0: no public source gives their encoding.",
    "Eastron-SDM630": "Input registers (FC04; FC03 answers the same). Sources: the SDM630 "
    "Modbus protocol, mbmd `meters/rs485/sdm.go`, the community Victron driver "
    "(M-o-a-T/victron-meter-library `Eastron_SDM630v2.py`), openWB `modules/common/sdm.py`.",
    "Inepro-PRO380": "FC03. Sources: the PRO380 user manual V2.18, mbmd "
    "`meters/rs485/inepro.go`, the community Victron PRO380 driver.",
    "CarloGavazzi-EM24": "FC03 (FC04 answers the same). The EM24 Ethernet as Victron's "
    "dbus-modbus-client (`carlo_gavazzi.py`) detects and reads it.",
}


def describe(name, addr, src, kind, scale):
    if not isinstance(src, str):
        if (name, addr) in _CONSTANTS:
            return _CONSTANTS[(name, addr)]
        if src == 1.0 or (kind == U16 and scale == 1000):
            return "power factor: always 1.0"
        if src == 0:
            return "reactive power: always 0"
        raise ValueError("no description for the constant at %s 0x%04X" % (name, addr))
    if src == "version":
        return "firmware version: ours, as " + (
            "major × 4096 + minor × 256 + patch" if kind == U16 else "major + minor / 100")
    if len(src) == 2 and src[0] in _PHASE:
        return _PHASE[src[0]].replace("%s", src[1])
    if src in _SOURCES:
        return _SOURCES[src]
    base, _, unit = src.rpartition("_")
    for (prefix, u), form in _FORMS.items():
        if base.startswith(prefix) and u == unit:
            which = base[len(prefix):].strip("_").upper() or "total"
            return form % ("tariff " + which[1:] if which[0] == "T" and which != "total"
                           else which)
    raise ValueError("no description for %s" % src)


def unit_note(kind, scale):
    if kind == TEXT:
        return "%d registers" % scale
    if scale == 1 or kind == U32:
        return ""
    return "× %g" % scale


def render():
    out = ["# Modbus registers per template", "",
           "Generated by `tools/regdoc.py` from the maps in `firmware/lib/modbus/` (`map_*.py`); "
           "`host_tests/test_regdoc.py` keeps the two equal. What the registers mean, the "
           "rule for the phase powers and the fixed values: [modbus.md](modbus.md).", "",
           "Every register not listed reads 0, and so does a value the telegram does not "
           "carry (e.g. per-phase energies: no P1 or TIC telegram has them). Scale: the "
           "register holds the value × scale (EMpro energies in Wh, PRO380 powers in kW).",
           ""]
    for name in templates.TEMPLATES:
        regs, cdab, writable = templates.load(name)
        out += ["## `%s`" % name, "", _HEADS[name], ""]
        if any(r[1] == F32 for r in regs):
            out += ["Floats in word order %s." % ("**CDAB** (low word first)" if cdab
                                                  else "ABCD"), ""]
        if cdab and any(r[1] in _TYPES_CDAB for r in regs):
            out += ["Integers and text in the same little-endian words: the meter's memory "
                    "read word by word ([modbus.md](modbus.md#templates)).", ""]
        out += ["| address | type | scale | value |", "|---|---|---|---|"]
        for addr, kind, src, scale in regs:
            out.append("| 0x%04X | %s | %s | %s |" % (addr, (cdab and _TYPES_CDAB.get(kind))
                                                      or _TYPES[kind],
                                                      unit_note(kind, scale),
                                                      describe(name, addr, src, kind, scale)))
        for addr, lo, hi, start in writable:
            out.append("| 0x%04X | uint16 | | writable (FC06) %d..%d, %d at start: the EM24's "
                       "application (7 = H, what Victron's driver sets) |" % (addr, lo, hi, start))
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
