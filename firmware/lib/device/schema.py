"""What a valid configuration is (docs/http-api.md): every field's check, the rules across
fields, secrets masked for reading, and a PATCH merged into a copy that either passes
whole or is refused naming its first wrong field. Shared by the file loader
(device/config.py) and the API."""
try:
    from micropython import const
except ImportError:
    const = int

from modbus import registers

MASK = "********"  # a stored secret as the API shows it; sent back, it keeps the secret
SECRETS = (("WiFi", "Password"), ("MQTT", "Password"))


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


def is_ipv4(v):
    p = v.split(".") if isinstance(v, str) else ()
    return len(p) == 4 and all(x.isdigit() and len(x) <= 3 and int(x) < 256 for x in p)


# Kinds of field; CHECKS below is one constant, frozen into flash with the module.
_TEMPLATE = const(0)
_ONE_OF = const(1)  # arg: the values
_ADDRESS = const(2)
_PREFIX = const(3)
_SSID = const(4)
_WPA2 = const(5)
_BOOL = const(6)
_BROKER = const(7)
_SITE = const(8)
_TEXT = const(9)  # arg: the longest
_SECONDS = const(10)  # arg: (lowest, highest)
_NUMBER = const(11)  # arg: (lowest, highest)

# (path, kind, arg), in the order fields are reported; literals only, so the whole table is
# a constant that stays in flash.
CHECKS = (
    (("MeterType",), _TEMPLATE, None),
    (("DefaultNetIf",), _ONE_OF, ("Ethernet", "WiFi")),
    (("Ethernet", "IpMode"), _ONE_OF, ("DHCP", "Static")),
    (("Ethernet", "StaticIPv4", "IpAddress"), _ADDRESS, None),
    (("Ethernet", "StaticIPv4", "Netmask"), _PREFIX, None),
    (("Ethernet", "StaticIPv4", "Gateway"), _ADDRESS, None),
    (("Ethernet", "StaticIPv4", "DNS"), _ADDRESS, None),
    (("WiFi", "IpMode"), _ONE_OF, ("DHCP", "Static")),
    (("WiFi", "SSID"), _SSID, None),
    (("WiFi", "Password"), _WPA2, None),
    (("WiFi", "StaticIPv4", "IpAddress"), _ADDRESS, None),
    (("WiFi", "StaticIPv4", "Netmask"), _PREFIX, None),
    (("WiFi", "StaticIPv4", "Gateway"), _ADDRESS, None),
    (("WiFi", "StaticIPv4", "DNS"), _ADDRESS, None),
    (("MQTT", "Enabled"), _BOOL, None),
    (("MQTT", "Broker"), _BROKER, None),
    (("MQTT", "Site"), _SITE, None),
    (("MQTT", "Username"), _TEXT, 128),
    (("MQTT", "Password"), _TEXT, 128),
    (("MQTT", "HomeAssistant"), _BOOL, None),
    (("Modbus", "StaleAfter"), _SECONDS, (1, 3600)),
    (("Modbus", "IdleTimeout"), _SECONDS, (1, 86400)),
    (("RS485", "Address"), _NUMBER, (1, 247)),
    (("RS485", "Baud"), _ONE_OF, (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)),
    (("RS485", "Parity"), _ONE_OF, ("N", "E", "O")),
)


def check(kind, arg, v):
    """Why v is not a valid value of this kind of field, or None."""
    if kind == _TEMPLATE:
        return None if v in registers.TEMPLATES else "unknown meter template"
    if kind == _ONE_OF:
        ok = type(v) is type(arg[0]) and v in arg
        return None if ok else "must be one of " + ", ".join([str(a) for a in arg])
    if kind == _ADDRESS:
        return None if v == "" or is_ipv4(v) else "must be an IPv4 address like 192.168.1.20"
    if kind == _PREFIX:
        ok = isinstance(v, str) and v.isdigit() and len(v) <= 2 and int(v) <= 32
        return None if ok else "must be a prefix length 0..32, as text"
    if kind == _SSID:
        ok = isinstance(v, str) and len(v.encode()) <= 32
        return None if ok else "must be 0..32 bytes"
    if kind == _WPA2:
        if not isinstance(v, str):
            return "must be text"
        if v and not (8 <= len(v) <= 63 and all(32 <= ord(c) < 127 for c in v)):
            return "must be 8..63 printable ASCII characters (WPA2)"
        return None
    if kind == _BOOL:
        return None if isinstance(v, bool) else "must be true or false"
    if kind == _BROKER:
        try:
            if v != "":
                broker_address(v)
        except ValueError as e:
            return str(e)
        return None
    if kind == _SITE:
        if not isinstance(v, str) or not 1 <= len(v) <= 64:
            return "must be 1..64 characters"
        return "must not contain / + or # (it is part of MQTT topics)" if (
            "/" in v or "+" in v or "#" in v) else None
    if kind == _TEXT:
        ok = isinstance(v, str) and len(v) <= arg
        return None if ok else "must be text of at most %d characters" % arg
    ok = type(v) is int and arg[0] <= v <= arg[1]
    return None if ok else "must be %d..%d%s" % (arg[0], arg[1], " seconds" * (
        kind == _SECONDS))


def get(cfg, path):
    for k in path:
        cfg = cfg[k]
    return cfg


def put(cfg, path, value):
    for k in path[:-1]:
        cfg = cfg[k]
    cfg[path[-1]] = value


def name(path):
    return ".".join(path)


def across(cfg):
    """(field, reason) of the first rule across fields that cfg breaks, or None."""
    for section in ("Ethernet", "WiFi"):
        if cfg[section]["IpMode"] == "Static":
            for key in ("IpAddress", "Netmask"):
                if cfg[section]["StaticIPv4"][key] == "":
                    return (name((section, "StaticIPv4", key)),
                            "is needed when IpMode is Static")
    if cfg["DefaultNetIf"] == "WiFi" and cfg["WiFi"]["SSID"] == "":
        return "WiFi.SSID", "is needed when DefaultNetIf is WiFi"
    if cfg["MQTT"]["Enabled"] and cfg["MQTT"]["Broker"] == "":
        return "MQTT.Broker", "is needed when MQTT is enabled"
    return None


def masked(cfg):
    """A copy to show: every stored secret as MASK, an empty one as ""."""
    out = copy(cfg)
    for path in SECRETS:
        if get(out, path):
            put(out, path, MASK)
    return out


def copy(d):
    return {k: copy(v) if isinstance(v, dict) else v for k, v in d.items()}


def patch(cfg, changes):
    """(new config, None) with changes merged into a copy of cfg, or (None, (field,
    reason)): unknown keys, wrong shapes and invalid values are refused, nothing changed.
    MASK for a secret keeps the stored one."""
    new = copy(cfg)
    err = _merge(new, changes, ())
    if err:
        return None, err
    for path in SECRETS:
        if get(new, path) == MASK:
            put(new, path, get(cfg, path))
    for path, kind, arg in CHECKS:
        reason = check(kind, arg, get(new, path))
        if reason:
            return None, (name(path), reason)
    err = across(new)
    return (None, err) if err else (new, None)


def _merge(into, changes, path):
    if not isinstance(changes, dict):
        return name(path) or "config", "must be an object"
    for k, v in changes.items():
        here = path + (k,)
        if k not in into:
            return name(here), "is not a setting of this device"
        if isinstance(into[k], dict):
            err = _merge(into[k], v, here)
            if err:
                return err
        elif isinstance(v, dict) or isinstance(v, list):
            return name(here), "must be a single value"
        else:
            into[k] = v
    return None
