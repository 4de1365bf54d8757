"""The device configuration (config.json in the device filesystem).

A missing, partial or corrupt file takes defaults for what it leaves out or gets wrong;
the reasons are returned so the status can show them. Keys this version does not know
are kept, so nothing a newer firmware wrote is lost.
"""
import json

import registers

DEFAULTS = {
    "MeterType": registers.DEFAULT,
    # Seconds without a valid telegram before Modbus reads answer exception 0x0B, and
    # seconds of silence before a Modbus client is disconnected.
    "Modbus": {"StaleAfter": 30, "IdleTimeout": 60},
}

# (section or None, key) -> check returning an error text or None
_CHECKS = (
    (None, "MeterType",
     lambda v: None if v in registers.TEMPLATES else "unknown meter template"),
    ("Modbus", "StaleAfter",
     lambda v: None if type(v) is int and 1 <= v <= 3600 else "must be 1..3600 seconds"),
    ("Modbus", "IdleTimeout",
     lambda v: None if type(v) is int and 1 <= v <= 86400 else "must be 1..86400 seconds"),
)


def _copy(d):
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in d.items()}


def merge(stored):
    """Defaults overlaid with the stored values that pass their check.
    Returns (config, errors) with errors a list of 'Field: reason'."""
    cfg = _copy(DEFAULTS)
    errors = []
    if not isinstance(stored, dict):
        return cfg, ["config: not a JSON object"]
    for k, v in stored.items():
        if k in cfg and isinstance(cfg[k], dict) != isinstance(v, dict):
            errors.append("%s: must be %s" % (k, "an object" if isinstance(cfg[k], dict)
                                              else "a value"))
        elif isinstance(v, dict) and k in cfg:
            cfg[k].update(v)
        else:
            cfg[k] = v
    for section, key, check in _CHECKS:
        where = cfg[section] if section else cfg
        err = check(where[key])
        if err:
            errors.append("%s%s: %s" % (section + "." if section else "", key, err))
            where[key] = DEFAULTS[section][key] if section else DEFAULTS[key]
    return cfg, errors


def load(path):
    try:
        with open(path) as f:
            stored = json.load(f)
    except OSError:
        return merge({})
    except ValueError:
        cfg, errors = merge({})
        return cfg, ["config: not valid JSON, defaults used"] + errors
    return merge(stored)
