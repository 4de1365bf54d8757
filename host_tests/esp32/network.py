"""Just enough of the ESP32 port's network module for host_tests/test_esp32_layer.py."""
import os

from machine import _log

PHY_LAN8720 = 1
_hostname = ["mpy-esp32"]


def hostname(name=None):
    if name is None:
        return _hostname[0]
    _hostname[0] = name


def ipconfig(key):
    return "192.0.2.53" if key == "dns" else None


class LAN:
    def __init__(self, **kw):
        if os.getenv("FAKE_PHY") == "dead":
            raise OSError("ESP_ERR_INVALID_STATE")  # the PHY does not answer
        _log("LAN", sorted(kw))

    def active(self, on):
        _log("LAN.active", on, "hostname", _hostname[0])  # the name the DHCP server gets

    def isconnected(self):
        return False
