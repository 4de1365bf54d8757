"""The ESP32's network interfaces, as the network manager (net/manager.py) drives them:
Ethernet (LAN8720 over RMII), the Wi-Fi station and the access point (docs/network.md).

Thin: it carries out the manager's actions and reports what the interfaces show. The
interfaces are made at boot (make()), before the firmware's imports, and handed over to
the driver (EspNet) later. The LAN8720 is power-cycled through its power pin before every
start: after a warm reboot it can stay dead otherwise. Link-local addresses come from
lwIP's AutoIP, which our image turns on (boards/esp32-common/sdkconfig.board): after 3
unanswered DHCP attempts it takes 169.254.x.y and DHCP keeps trying; a stock image has no
AutoIP and stays without an address until a DHCP server answers."""
import asyncio
import time

import network
from machine import Pin

DHCP_ATTEMPT_MS = 10000  # counted as one unanswered DHCP attempt (lwIP retries inside)
_RECHECK_MS = 5000  # with a lease, how often to look for a new address (no garbage between)
_POWER_OFF_S = 0.1  # the LAN8720 needs its supply off this long to reset
_AP_ADDR4 = "192.168.71.1/24"


def _prefix(mask):
    return sum(bin(int(x)).count("1") for x in mask.split("."))


def _lan(eth):
    kw = {"mdc": Pin(eth["mdc"]), "mdio": Pin(eth["mdio"]), "phy_type": network.PHY_LAN8720,
          "phy_addr": eth["phy_addr"]}
    if eth["clock_out"] is not None:
        kw["ref_clk_mode"] = Pin.OUT
        kw["ref_clk"] = Pin(eth["clock_out"])
    return network.LAN(**kw)


_made = None  # type: tuple | None


def make(eth):
    """The interfaces, made by the board's boot() before the firmware's imports: the Wi-Fi
    driver (WLAN, and the station started) and the Ethernet driver (LAN, its PHY powered so
    that it answers) take their memory from the IDF heap while it is whole. Made after the
    imports of the .mpy development path, whose Python heap grows into that heap, Wi-Fi
    failed (OSError: WiFi Out of Memory). The station joins nothing and Ethernet does not
    start yet: they take the hostname then, which the firmware knows only from the
    identity. A PHY that does not answer is left to the manager's retries.
    eth: the LAN8720's pins, {"mdc", "mdio", "phy_addr", "power", "clock_out"} (power and
    clock_out may be None), None on a board without Ethernet."""
    global _made
    sta = network.WLAN(network.WLAN.IF_STA)
    ap = network.WLAN(network.WLAN.IF_AP)
    ap.active(False)  # the access point never outlives a restart
    sta.active(True)
    pin = eth and eth["power"]
    power = None if pin is None else Pin(pin, Pin.OUT, value=0)
    lan = None
    if eth is not None:
        if power is not None:
            time.sleep(_POWER_OFF_S)
            power.value(1)
            time.sleep(_POWER_OFF_S)  # the PHY's own reset after power-up
        try:
            lan = _lan(eth)
        except OSError as e:
            print("network: Ethernet at boot failed:", e)
    _made = (power, sta, ap, lan)
    return _made


class EspNet:
    def __init__(self, hostname, eth, ap_ssid, ap_key):
        """Takes over the interfaces make() made at boot (makes them when a board module
        is used without its boot(), e.g. at the REPL). eth: as make() takes it; ap_ssid,
        ap_key: SC-<serial> and the label's WPA2 key (None: no access point)."""
        network.hostname(hostname)  # taken by an interface when it starts
        self._eth = eth
        self._power, self._sta, self._ap, self._lan = _made or make(eth)
        self._ap_cfg = (ap_ssid, ap_key)
        base = self._sta.config("mac")
        # lwIP seeds AutoIP with the Ethernet MAC, the base MAC + 3 (ESP-IDF's MAC layout)
        self.mac = bytes(base[:5]) + bytes(((base[5] + 3) & 0xFF,))
        self._nic = None
        self._dhcp = False
        self._attempt = None
        self._checked = 0

    def poll(self, m, now):
        nic = self._nic
        if nic is None:
            return
        if nic is self._sta:
            up = nic.isconnected()
        else:
            up = nic.status() in (network.ETH_CONNECTED, network.ETH_GOT_IP)
        if up and not m.link:
            m.link_up(now)
        elif m.link and not up:
            m.link_down(now)
        if not (self._dhcp and m.link):
            return
        if m.method == "dhcp" and now - self._checked < _RECHECK_MS:
            return
        self._checked = now
        addr, mask = nic.ipconfig("addr4")
        if addr != "0.0.0.0":
            if addr != m.address:
                dns = network.ipconfig("dns")
                m.lease(addr, _prefix(mask), nic.ipconfig("gw4"),
                        None if dns == "0.0.0.0" else dns)
            self._attempt = None
        elif self._attempt is None:
            self._attempt = now
        elif now - self._attempt >= DHCP_ATTEMPT_MS:
            self._attempt = now
            m.dhcp_failed()

    def ap_clients(self):
        if not self._ap.active():
            return 0
        # a list of (mac,) per client; the stubs say int
        return len(self._ap.status("stations"))  # type: ignore[arg-type]

    async def do(self, action):
        kind = action[0]
        if kind == "start":
            self._dhcp = False
            try:
                await self._start(action[1], action[2], action[3])
            except OSError as e:  # a PHY that does not answer: the manager tries again
                print("network:", action[1], "failed:", e)
                self._nic = None
        elif self._nic is None:
            pass
        elif kind == "dhcp":
            self._nic.ipconfig(dhcp4=True)
            self._dhcp = True
            self._attempt = None
        elif kind == "static":
            _, addr, prefix, gw, dns = action
            self._nic.ipconfig(addr4="%s/%d" % (addr, prefix), gw4=gw or "0.0.0.0")
            if dns:
                network.ipconfig(dns=dns)
        elif kind == "ap":
            self._access_point(action[1])
        # "link-local": lwIP's AutoIP has taken it already (the image's setting)

    async def _start(self, iface, ssid, key):
        if self._lan is not None:
            self._lan.active(False)
        self._sta.active(False)
        if self._power is not None:
            self._power.value(0)
        if iface == "WiFi":
            self._nic = self._sta
            self._sta.active(True)
            self._sta.connect(ssid, key)
            return
        if self._eth is None:  # no Ethernet on this board: the link never comes
            return
        await asyncio.sleep(_POWER_OFF_S)
        if self._power is not None:
            self._power.value(1)
            await asyncio.sleep(_POWER_OFF_S)  # the PHY's own reset after power-up
        if self._lan is None:  # it did not answer at boot
            self._lan = _lan(self._eth)
        self._nic = self._lan
        self._lan.active(True)

    def _access_point(self, on):
        ssid, key = self._ap_cfg
        if not on or not key:
            self._ap.active(False)
            return
        self._ap.active(True)
        self._ap.config(ssid=ssid, key=key, authmode=network.AUTH_WPA2_PSK)
        self._ap.ipconfig(addr4=_AP_ADDR4)  # its DHCP server hands out 192.168.71.x
