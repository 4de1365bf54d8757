"""The network manager (docs/network.md): decides what the one active interface does, from
what the board's driver saw (link up or down, an address, a DHCP attempt that went
unanswered, the access point's clients), the configuration (read at start), the button
and the time.
The driver carries out the actions it takes with take() and reports back. Pure: the
tests drive every transition with time as an input.

Recovery never ends: an interface without link is started again (Ethernet: its PHY
power-cycled first) at delays that double up to a cap, with jitter. Every change of
address bumps `generation`; the services follow it (app.py, docs/network.md)."""
from device.backoff import Backoff

DHCP_TRIES = 3  # unanswered DHCP attempts before a link-local address (lwIP AutoIP: the same)
LINK_WAIT_MS = 10000  # no link this long after a start: start again
RETRY_MS = 5000  # first restart delay without link, doubling up to RETRY_CAP_MS
RETRY_CAP_MS = 120000
AP_IDLE_MS = 15 * 60 * 1000  # the access point stops after this long without a client
AP_ADDRESS = "192.168.71.1"
AP_PREFIX = 24
LINK_LOCAL = "169.254."
_NET_KEYS = ("DefaultNetIf", "Ethernet", "WiFi")


def link_local(mac):
    """The 169.254.x.y address lwIP's AutoIP tries first (RFC 3927: 169.254.1.0 to
    169.254.254.255), seeded with the MAC's last two bytes, so the sim shows the one a
    device with that MAC takes."""
    a = 0x0100 + (mac[4] | mac[5] << 8)
    if a > 0xFEFF:
        a -= 0xFE00
    return "169.254.%d.%d" % (a >> 8, a & 0xFF)


def factory_state(cfg, defaults):
    """No saved network configuration: the access point may be started."""
    for k in _NET_KEYS:
        if cfg[k] != defaults[k]:
            return False
    return True


class NetManager:
    def __init__(self, cfg, mac, rand=None):
        """cfg: the configuration (DefaultNetIf and its section); mac: 6 bytes."""
        self._mac = mac
        self.iface = cfg["DefaultNetIf"]
        self._station = (cfg["WiFi"]["SSID"], cfg["WiFi"]["Password"])
        sect = cfg[self.iface]
        s = sect["StaticIPv4"]
        self._static = (s["IpAddress"], int(s["Netmask"]), s["Gateway"] or None,
                        s["DNS"] or None) if sect["IpMode"] == "Static" else None
        self.link = False
        self.address = self.prefix = self.gateway = self.dns = None
        self.method = "none"
        self.failures = 0  # DHCP attempts unanswered since the link came up
        self.starts = 0  # interface starts, the first one included
        self.generation = 0  # bumped by every change of address
        self.ap = False
        self._ap_idle = None  # since when the access point has had no client
        self._backoff = Backoff(RETRY_MS, RETRY_CAP_MS, rand) if rand else \
            Backoff(RETRY_MS, RETRY_CAP_MS)
        self._due = None  # when to start the interface again, while without link
        self._actions = []

    def take(self):
        """The actions to carry out, in order: ("start", interface, ssid, password) (the
        other interface off, the address dropped; the station's network, a secret),
        ("dhcp",), ("static", addr, prefix, gateway, dns), ("link-local", addr),
        ("ap", on)."""
        if not self._actions:
            return ()  # nothing allocated on the passes where nothing happens
        a, self._actions = self._actions, []
        return a

    def _set(self, addr, prefix, gw, dns, method):
        if addr != self.address or method != self.method:
            self.generation += 1
        self.address, self.prefix, self.gateway, self.dns = addr, prefix, gw, dns
        self.method = method

    def start(self, now):
        """Start the interface (at boot, and so after a soft reset: the configuration
        is read at start)."""
        self.starts += 1
        self.link = False
        self.failures = 0
        self._set(None, None, None, None, "none")
        self._actions.append(("start", self.iface) + self._station)
        self._due = now + LINK_WAIT_MS

    def link_up(self, now):
        if self.link:
            return
        self.link = True
        self._due = None
        self._backoff.reset()
        self.failures = 0
        if self._static:
            self._actions.append(("static",) + self._static)
            self._set(*self._static, method="static")
            self._connected()
        else:
            self._actions.append(("dhcp",))

    def link_down(self, now):
        """Cable pulled, station lost: the address goes with it (lwIP drops it too)."""
        if not self.link:
            return
        self.link = False
        self._set(None, None, None, None, "none")
        self._due = now + self._backoff.next()

    def lease(self, addr, prefix, gw, dns):
        """The driver saw an address: DHCP's, or on the ESP32 lwIP's own link-local one."""
        if self._static or not self.link:
            return
        method = "link-local" if addr.startswith(LINK_LOCAL) else "dhcp"
        self._set(addr, prefix, gw, dns, method)
        if method == "dhcp":
            self.failures = 0
            self._connected()

    def _connected(self):
        if self.iface == "WiFi":
            self.ap_stop()  # the station is connected: commissioning is over

    def dhcp_failed(self):
        """One DHCP attempt went unanswered; the driver keeps trying (as lwIP does)."""
        if not self.link or self.method == "dhcp" or self._static:
            return
        self.failures += 1
        if self.failures >= DHCP_TRIES and self.method == "none":
            addr = link_local(self._mac)
            self._actions.append(("link-local", addr))
            self._set(addr, 16, None, None, "link-local")

    def tick(self, now, ap_clients=0):
        if not self.link and self._due is not None and now >= self._due:
            self.starts += 1
            self._actions.append(("start", self.iface) + self._station)
            self._due = now + self._backoff.next()
        if self.ap:
            if ap_clients:
                self._ap_idle = None
            elif self._ap_idle is None:
                self._ap_idle = now
            elif now - self._ap_idle >= AP_IDLE_MS:
                self.ap_stop()

    def ap_start(self, now):
        if not self.ap:
            self.ap = True
            self._ap_idle = now
            self._actions.append(("ap", True))

    def ap_stop(self):
        if self.ap:
            self.ap = False
            self._actions.append(("ap", False))

    def status(self):
        return {"interface": self.iface, "link": self.link, "address": self.address,
                "prefix": self.prefix, "method": self.method, "gateway": self.gateway,
                "dns": self.dns, "dhcp_failures": self.failures, "starts": self.starts,
                "generation": self.generation, "ap": AP_ADDRESS if self.ap else None}
