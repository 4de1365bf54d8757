"""The normalized reading (SPEC section 3): one dict per valid telegram or frame.

Every consumer (Modbus image, MQTT, HTTP API, tools/decode.py) reads these keys and
nothing else. A value the meter does not send stays None. Powers are int W, other
quantities float in their unit, timestamps int UTC epoch seconds.
"""
import json

from device.outbuf import Out

KEYS = (
    "protocol", "ts",
    "power_w", "power_import_w", "power_export_w",
    "power_l1_w", "power_l2_w", "power_l3_w",
    "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
    "current_l1_a", "current_l2_a", "current_l3_a",
    "avg_demand_w",
    "energy_import_kwh", "energy_export_kwh",
    "energy_import_t1_kwh", "energy_import_t2_kwh",
    "energy_export_t1_kwh", "energy_export_t2_kwh",
    "tariff", "peak_month_w", "peak_month_ts", "peak_history",
    "gas_m3", "gas_ts", "water_m3", "water_ts", "mbus",
    "meter_id", "version",
)

PEAK_KEYS = ("month_ts", "ts", "w")
MBUS_KEYS = ("channel", "type", "id", "value", "unit", "ts")
PHASE_POWER = ("power_l1_w", "power_l2_w", "power_l3_w")
PHASE_VOLTAGE = ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v")
PHASE_CURRENT = ("current_l1_a", "current_l2_a", "current_l3_a")

_TEMPLATE = dict.fromkeys(KEYS)
# The ESP32's floats have 24 bits (about 7 digits); the unix port's and CPython's 53.
_SINGLE = 1.0 + 1e-9 == 1.0
_DIGITS = ("%.6g", "%.7g", "%.8g")


def float_text(v, single):
    """A single-precision float in the fewest digits that read back as the same float
    (230.1, not 230.100006; 12345.678, not 12345.68). single(x): x rounded to single
    precision (float itself on the ESP32). With doubles "%.15g" does it: MicroPython's
    repr is not always the shortest round trip, and 15 digits agree."""
    for f in _DIGITS:
        s = f % v
        if single(float(s)) == v:
            return s
    return "%.9g" % v


def new():
    """A reading with every key None (one allocation of the final size)."""
    return _TEMPLATE.copy()


def net(imp, exp):
    """import - export, with an absent export taken as none."""
    if imp is None:
        return None if exp is None else -exp
    return imp - exp if exp is not None else imp


def signed(current, power):
    """Currents carry the direction of their phase's power (chargers rely on it)."""
    if current is None or power is None or power >= 0 or not current:
        return current
    return -current


def _pairs(w, d, keys, sep="{"):
    """Writes '"key": value' for each key, the first after sep; returns the next sep."""
    for k in keys:
        w('%s"%s": ' % (sep, k))
        _write(w, d[k])
        sep = ", "
    return sep


def _write_map(w, d, keys):
    w("}" if _pairs(w, d, keys) == ", " else "{}")


def _write(w, v):
    if isinstance(v, list):
        sep = "["
        for x in v:
            w(sep)
            _write(w, x)
            sep = ", "
        w("]" if sep == ", " else "[]")
    elif isinstance(v, dict):
        _write_map(w, v, PEAK_KEYS if "month_ts" in v else
                   MBUS_KEYS if "channel" in v else sorted(v))
    elif isinstance(v, float):
        s = float_text(v, float) if _SINGLE else "%.15g" % v
        w(s if "." in s or "e" in s else s + ".0")
    else:
        w(json.dumps(v))


def write_json(out, r, keys=KEYS, raw=None):
    """Writes the reading's JSON into out (a device.outbuf.Out or any text stream) in a
    fixed key order, so CPython and MicroPython print identical text (MicroPython dicts
    do not keep insertion order). Piece by piece: no large fresh block of the heap."""
    w = out.write
    sep = _pairs(w, r, keys)
    if raw is not None:
        w(sep + '"raw": ')
        _write_map(w, raw, sorted(raw))
        sep = ", "
    w("}" if sep == ", " else "{}")


def to_json(r, keys=KEYS, raw=None):
    """The reading's JSON as a string, for tools and tests."""
    out = Out(1024)
    write_json(out, r, keys, raw)
    return bytes(out.view()).decode()
