"""The device configuration (config.json in the device filesystem).

A missing, partial or corrupt file takes defaults for what it leaves out or gets wrong;
the reasons are returned so the status can show them. Keys this version does not know
are kept, so nothing a newer firmware wrote is lost. Writes are atomic: power lost at any
instant leaves the old file or the new one, never a mix.
"""
import json
import os

from device import schema
from modbus import registers


def _ipv4():
    return {"IpAddress": "", "Netmask": "24", "Gateway": "", "DNS": ""}


DEFAULTS = {
    "MeterType": registers.DEFAULT,
    # Applied by the network manager after a reboot.
    "DefaultNetIf": "Ethernet",
    "Ethernet": {"IpMode": "DHCP", "StaticIPv4": _ipv4()},
    "WiFi": {"IpMode": "DHCP", "SSID": "", "Password": "", "StaticIPv4": _ipv4()},
    # Off until a broker is set; HomeAssistant publishes MQTT discovery messages.
    "MQTT": {"Enabled": False, "Broker": "", "Site": "unknown-site", "Username": "",
             "Password": "", "HomeAssistant": False},
    # Seconds without a valid telegram before Modbus reads answer exception 0x0B, and
    # seconds of silence before a Modbus client is disconnected.
    "Modbus": {"StaleAfter": 30, "IdleTimeout": 60},
    # The RS485 Modbus RTU slave (P1MB / A1MB boards), applied at the next start: the
    # P1MB's defaults (an A1MB's, address 2 and 8N1, come with its board).
    "RS485": {"Address": 16, "Baud": 9600, "Parity": "E"},
}


def _overlay(cfg, stored, path, errors):
    for k, v in stored.items():
        where = path + (k,)
        if k in cfg and isinstance(cfg[k], dict) != isinstance(v, dict):
            errors.append("%s: must be %s" % (schema.name(where), "an object"
                                               if isinstance(cfg[k], dict) else "a value"))
        elif isinstance(v, dict) and k in cfg:
            _overlay(cfg[k], v, where, errors)
        else:
            cfg[k] = v


def merge(stored):
    """Defaults overlaid with the stored values that pass their check.
    Returns (config, errors) with errors a list of 'Field: reason'."""
    cfg = schema.copy(DEFAULTS)
    errors = []
    if not isinstance(stored, dict):
        return cfg, ["config: not a JSON object"]
    _overlay(cfg, stored, (), errors)
    for path, kind, arg in schema.CHECKS:
        err = schema.check(kind, arg, schema.get(cfg, path))
        if err:
            errors.append("%s: %s" % (schema.name(path), err))
            schema.put(cfg, path, schema.get(DEFAULTS, path))
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


def save(path, cfg):
    """Write cfg to path atomically: a temporary file, closed (committed on littlefs),
    then renamed over the old one."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        json.dump(cfg, f)
    os.rename(tmp, path)


def erase(path):
    """Factory reset: back to the defaults at the next start (the identity is elsewhere)."""
    for p in (path, path + ".new"):
        try:
            os.remove(p)
        except OSError:
            pass
