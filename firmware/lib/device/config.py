"""The device configuration (config.json in the device filesystem).

A missing, partial or corrupt file takes defaults for what it leaves out or gets wrong;
the reasons are returned so the status can show them. Keys this version does not know
are kept, so nothing a newer firmware wrote is lost.
"""
import json

from modbus import registers

DEFAULTS = {
    "MeterType": registers.DEFAULT,
    # Seconds without a valid telegram before Modbus reads answer exception 0x0B, and
    # seconds of silence before a Modbus client is disconnected.
    "Modbus": {"StaleAfter": 30, "IdleTimeout": 60},
    # Off until a broker is set; HomeAssistant publishes MQTT discovery messages.
    "MQTT": {"Enabled": False, "Broker": "", "Site": "unknown-site", "Username": "",
             "Password": "", "HomeAssistant": False},
}


def broker_address(url):
    """(host, port) of an mqtts:// URL; ValueError saying what is wrong otherwise.
    TLS only: the device never sends readings or credentials in clear text."""
    if not isinstance(url, str):
        raise ValueError("must be a string")
    if "://" in url and not url.startswith("mqtts://"):
        raise ValueError("only mqtts:// (MQTT over TLS) is allowed, not %s://"
                         % url.split("://")[0])
    if not url.startswith("mqtts://"):
        raise ValueError("must look like mqtts://host[:port]")
    rest = url[8:].rstrip("/")
    host, sep, port = rest.rpartition(":") if ":" in rest else (rest, "", "8883")
    if not host or "/" in host or "@" in host or " " in host:
        raise ValueError("must look like mqtts://host[:port]")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("port must be 1..65535")
    return host, int(port)


def _broker(v):
    if v == "":
        return None
    try:
        broker_address(v)
    except ValueError as e:
        return str(e)


def _text(limit):
    return lambda v: None if isinstance(v, str) and len(v) <= limit else (
        "must be text of at most %d characters" % limit)


def _site(v):
    if not isinstance(v, str) or not 1 <= len(v) <= 64:
        return "must be 1..64 characters"
    for c in "/+#":
        if c in v:
            return "must not contain / + or # (it is part of MQTT topics)"

# (section or None, key) -> check returning an error text or None
_CHECKS = (
    (None, "MeterType",
     lambda v: None if v in registers.TEMPLATES else "unknown meter template"),
    ("Modbus", "StaleAfter",
     lambda v: None if type(v) is int and 1 <= v <= 3600 else "must be 1..3600 seconds"),
    ("Modbus", "IdleTimeout",
     lambda v: None if type(v) is int and 1 <= v <= 86400 else "must be 1..86400 seconds"),
    ("MQTT", "Enabled", lambda v: None if isinstance(v, bool) else "must be true or false"),
    ("MQTT", "Broker", _broker),
    ("MQTT", "Site", _site),
    ("MQTT", "Username", _text(128)),
    ("MQTT", "Password", _text(128)),
    ("MQTT", "HomeAssistant",
     lambda v: None if isinstance(v, bool) else "must be true or false"),
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
