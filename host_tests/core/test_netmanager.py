"""The network manager: every transition, table-driven, time an input (no waiting)."""
from device.config import DEFAULTS
from device.schema import copy
from net.manager import (
    AP_IDLE_MS,
    DHCP_TRIES,
    LINK_WAIT_MS,
    NetManager,
    factory_state,
    link_local,
)

MAC = b"\x02\x53\x43\x00\x12\x34"


def _cfg(**changes):
    c = copy(DEFAULTS)
    for path, v in changes.items():
        d = c
        keys = path.split("__")
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = v
    return c


def _run(m, steps):
    """steps: (now, event, args, actions expected, (link, method, address) expected)."""
    for i, (now, event, args, actions, state) in enumerate(steps):
        if event == "tick":
            m.tick(now, *args)
        elif event in ("start", "link_up", "link_down", "ap_start"):
            getattr(m, event)(now)
        else:
            getattr(m, event)(*args)
        got = m.take()
        assert list(got) == actions, (i, event, got)
        assert (m.link, m.method, m.address) == state, (i, event, m.status())


ETH = ("start", "Ethernet", "", "")
LEASE = ("192.168.1.20", 24, "192.168.1.1", "192.168.1.1")
NONE = (False, "none", None)
UP = (True, "none", None)
DHCP = (True, "dhcp", "192.168.1.20")
LL = (True, "link-local", link_local(MAC))


def test_link_local_addresses_are_lwips_first_choice_in_the_rfc3927_range():
    for mac45, want in (((0, 0), "169.254.1.0"), ((0x12, 0x34), "169.254.53.18"),
                        ((0xFF, 0xFF), "169.254.2.255"), ((0xFE, 0xFE), "169.254.1.254"),
                        ((0xFF, 0xFD), "169.254.254.255")):
        assert link_local(b"\0\0\0\0" + bytes(mac45)) == want, mac45
    for a in range(0, 256, 5):
        for b in range(0, 256, 7):
            ip = [int(x) for x in link_local(bytes((0, 0, 0, 0, a, b))).split(".")]
            assert ip[:2] == [169, 254] and 1 <= ip[2] <= 254, ip


def test_dhcp_lease():
    m = NetManager(_cfg(), MAC)
    _run(m, [
        (0, "start", (), [ETH], NONE),
        (500, "link_up", (), [("dhcp",)], UP),
        (600, "link_up", (), [], UP),  # reported twice: nothing new
        (900, "lease", LEASE, [], DHCP),
        (1000, "dhcp_failed", (), [], DHCP),  # a lease holds: no failure counts
    ])
    assert (m.gateway, m.dns, m.prefix, m.generation) == ("192.168.1.1", "192.168.1.1", 24, 1)


def test_three_unanswered_dhcp_attempts_give_link_local_then_dhcp_takes_over():
    m = NetManager(_cfg(), MAC)
    steps = [(0, "start", (), [ETH], NONE), (1, "link_up", (), [("dhcp",)], UP)]
    for i in range(DHCP_TRIES - 1):
        steps.append((2 + i, "dhcp_failed", (), [], UP))
    steps += [
        (9, "dhcp_failed", (), [("link-local", link_local(MAC))], LL),
        (10, "dhcp_failed", (), [], LL),  # DHCP keeps trying; the address stays
        (11, "lease", LEASE, [], DHCP),
        (12, "link_down", (), [], NONE),
        (13, "link_up", (), [("dhcp",)], UP),  # a new link: counting starts again
        (14, "dhcp_failed", (), [], UP),
    ]
    _run(m, steps)
    assert m.failures == 1 and m.generation == 3


def test_lwips_own_link_local_address_is_reported_as_such():
    m = NetManager(_cfg(), MAC)
    _run(m, [(0, "start", (), [ETH], NONE), (1, "link_up", (), [("dhcp",)], UP),
             (2, "lease", ("169.254.9.9", 16, None, None), [],
              (True, "link-local", "169.254.9.9"))])


def test_without_link_the_interface_starts_again_forever_with_backoff():
    m = NetManager(_cfg(), MAC, rand=lambda n: 0)
    steps = [(0, "start", (), [ETH], NONE),
             (LINK_WAIT_MS - 1, "tick", (), [], NONE),
             (LINK_WAIT_MS, "tick", (), [ETH], NONE)]
    t = LINK_WAIT_MS
    for delay in (5000, 10000, 20000, 40000, 80000, 120000, 120000, 120000):
        steps += [(t + delay - 1, "tick", (), [], NONE), (t + delay, "tick", (), [ETH], NONE)]
        t += delay
    _run(m, steps)
    assert m.starts == 10


def test_link_lost_and_back_restarts_at_backoff_and_the_address_follows():
    m = NetManager(_cfg(), MAC, rand=lambda n: 0)
    _run(m, [
        (0, "start", (), [ETH], NONE), (1, "link_up", (), [("dhcp",)], UP),
        (2, "lease", LEASE, [], DHCP),
        (1000, "link_down", (), [], NONE),
        (1000, "link_down", (), [], NONE),
        (5999, "tick", (), [], NONE),
        (6000, "tick", (), [ETH], NONE),
        (7000, "link_up", (), [("dhcp",)], UP),
        (7100, "tick", (), [], UP),  # link again: no more restarts
        (7200, "lease", ("192.168.1.21", 24, "192.168.1.1", None), [],
         (True, "dhcp", "192.168.1.21")),
        (9000, "link_down", (), [], NONE),
        (13999, "tick", (), [], NONE),  # the backoff started over with the link
        (14000, "tick", (), [ETH], NONE),
    ])
    assert m.generation == 4


def test_static_address():
    m = NetManager(_cfg(Ethernet__IpMode="Static",
                        Ethernet__StaticIPv4={"IpAddress": "10.0.0.5", "Netmask": "16",
                                              "Gateway": "10.0.0.1", "DNS": ""}), MAC)
    st = (True, "static", "10.0.0.5")
    _run(m, [
        (0, "start", (), [ETH], NONE),
        (1, "link_up", (), [("static", "10.0.0.5", 16, "10.0.0.1", None)], st),
        (2, "lease", LEASE, [], st),
        (3, "dhcp_failed", (), [], st),
        (4, "link_down", (), [], NONE),
    ])


def test_wifi_station_connects_and_ends_the_access_point():
    cfg = _cfg(DefaultNetIf="WiFi", WiFi__SSID="home", WiFi__Password="secret-pass")
    m = NetManager(cfg, MAC)
    sta = ("start", "WiFi", "home", "secret-pass")
    _run(m, [
        (0, "start", (), [sta], NONE),
        (1, "ap_start", (), [("ap", True)], NONE),
        (2, "ap_start", (), [], NONE),
        (3, "link_up", (), [("dhcp",)], UP),
        (4, "lease", LEASE, [("ap", False)], DHCP),
        (5, "link_down", (), [], NONE),  # station lost (the router restarts)
    ])


def test_access_point_stops_after_an_idle_timeout():
    m = NetManager(_cfg(), MAC)
    _run(m, [
        (0, "ap_start", (), [("ap", True)], NONE),
        (AP_IDLE_MS - 1, "tick", (1,), [], NONE),  # a client: not idle
        (AP_IDLE_MS, "tick", (0,), [], NONE),
        (2 * AP_IDLE_MS - 1, "tick", (0,), [], NONE),
        (2 * AP_IDLE_MS, "tick", (0,), [("ap", False)], NONE),
        (2 * AP_IDLE_MS + 1, "tick", (0,), [], NONE),
    ])
    assert not m.ap
    assert m.status()["ap"] is None


def test_factory_state_is_no_saved_network_configuration():
    assert factory_state(_cfg(), DEFAULTS)
    assert factory_state(_cfg(MeterType="Eastron-SDM630"), DEFAULTS)
    assert not factory_state(_cfg(WiFi__SSID="home"), DEFAULTS)
    assert not factory_state(_cfg(DefaultNetIf="WiFi"), DEFAULTS)


def test_status_names_the_interface_and_how_the_address_came():
    m = NetManager(_cfg(), MAC)
    m.start(0)
    m.link_up(1)
    m.lease(*LEASE)
    s = m.status()
    assert (s["interface"], s["link"], s["address"], s["method"], s["gateway"], s["dns"]) == \
        ("Ethernet", True, "192.168.1.20", "dhcp", "192.168.1.1", "192.168.1.1")


def test_a_wifi_station_with_a_static_address_ends_the_access_point_too():
    cfg = _cfg(DefaultNetIf="WiFi", WiFi__SSID="home", WiFi__Password="secret-pass",
               WiFi__IpMode="Static", WiFi__StaticIPv4={"IpAddress": "10.0.0.9", "Netmask": "8",
                                                        "Gateway": "", "DNS": "10.0.0.1"})
    m = NetManager(cfg, MAC)
    _run(m, [
        (0, "start", (), [("start", "WiFi", "home", "secret-pass")], NONE),
        (1, "ap_start", (), [("ap", True)], NONE),
        (2, "link_up", (), [("static", "10.0.0.9", 8, None, "10.0.0.1"), ("ap", False)],
         (True, "static", "10.0.0.9")),
    ])
