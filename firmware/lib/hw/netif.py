"""The ESP32's network interfaces, as the network manager (net/manager.py) drives them:
Ethernet (LAN8720 over RMII), the Wi-Fi station and the access point (docs/network.md).

Thin: it carries out the manager's actions and reports what the interfaces show. The
LAN8720 is power-cycled through its power pin before every start: after a warm reboot
it can stay dead otherwise. Link-local addresses come from lwIP's AutoIP, which our image
turns on (boards/esp32-common/sdkconfig.board): after 3 unanswered DHCP attempts it
takes 169.254.x.y and DHCP keeps trying; a stock image has no AutoIP and stays without
an address until a DHCP server answers."""
import asyncio

import network
from machine import Pin

DHCP_ATTEMPT_MS = 10000  # counted as one unanswered DHCP attempt (lwIP retries inside)
_RECHECK_MS = 5000  # with a lease, how often to look for a new address (no garbage between)
_POWER_OFF_S = 0.1  # the LAN8720 needs its supply off this long to reset
_AP_ADDR4 = "192.168.71.1/24"


def _prefix(mask):
    return sum(bin(int(x)).count("1") for x in mask.split("."))


class EspNet:
    def __init__(self, hostname, eth, ap_ssid, ap_key):
        """eth: the LAN8720's pins, {"mdc", "mdio", "phy_addr", "power", "clock_out"}
        (power and clock_out may be None), None on a board without Ethernet; ap_ssid,
        ap_key: SC-<serial> and the label's WPA2 key (None: no access point)."""
        network.hostname(hostname)  # taken by an interface when it starts
        self._eth = eth
        power = eth and eth["power"]
        self._power = None if power is None else Pin(power, Pin.OUT, value=0)
        self._lan = None
        self._sta = network.WLAN(network.WLAN.IF_STA)
        self._ap = network.WLAN(network.WLAN.IF_AP)
        self._ap.active(False)  # the access point never outlives a restart
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
        if self._lan is None:
            e = self._eth
            kw = {"mdc": Pin(e["mdc"]), "mdio": Pin(e["mdio"]),
                  "phy_type": network.PHY_LAN8720, "phy_addr": e["phy_addr"]}
            if e["clock_out"] is not None:
                kw["ref_clk_mode"] = Pin.OUT
                kw["ref_clk"] = Pin(e["clock_out"])
            self._lan = network.LAN(**kw)
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
