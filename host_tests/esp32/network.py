"""Just enough of the ESP32 port's network module for host_tests/test_esp32_layer.py."""
import os

from machine import _log

PHY_LAN8720 = 1
_hostname = ["mpy-esp32"]


def hostname(name=None):
    if name is None:
        return _hostname[0]
    _hostname[0] = name


ETH_STOPPED, ETH_CONNECTED, ETH_DISCONNECTED, ETH_GOT_IP = 2, 3, 4, 5
AUTH_WPA2_PSK = 3


def ipconfig(key=None, **kw):
    if kw:
        _log("ipconfig", sorted(kw.items()))
        return None
    return "192.0.2.53" if key == "dns" else None


class _Nic:
    """What both kinds of interface share: ipconfig. FAKE_ADDR: the address DHCP gave."""

    def ipconfig(self, key=None, **kw):
        if kw:
            _log(type(self).__name__ + ".ipconfig", sorted(kw.items()))
            return None
        if key == "addr4":
            return os.getenv("FAKE_ADDR", "0.0.0.0"), "255.255.255.0"
        return "192.0.2.1"


class LAN(_Nic):
    def __init__(self, **kw):
        if os.getenv("FAKE_PHY") == "dead":
            raise OSError("ESP_ERR_INVALID_STATE")  # the PHY does not answer
        _log("LAN", sorted(kw))  # the driver takes its DMA buffers

    def active(self, on):
        _log("LAN.active", on, "hostname", _hostname[0])  # the name the DHCP server gets

    def status(self):
        return ETH_GOT_IP if os.getenv("FAKE_LINK") == "up" else ETH_DISCONNECTED


class WLAN(_Nic):
    IF_STA, IF_AP = 0, 1

    def __init__(self, interface):
        self._if = interface
        self._on = False
        _log("WLAN", interface)  # the Wi-Fi driver takes its memory (esp_wifi_init)

    def config(self, param=None, **kw):
        if param == "mac":
            return b"\x24\x0a\xc4\x12\x34\x56"
        _log("WLAN.config", self._if, sorted(kw))  # names only: the key is a secret

    def active(self, on=None):
        if on is None:
            return self._on
        self._on = on
        _log("WLAN.active", self._if, on)

    def connect(self, ssid, key):
        _log("WLAN.connect", ssid)

    def isconnected(self):
        return False

    def status(self, what=None):
        return []
