"""The HTTPS API of the real firmware (tools/sim.py) with a real HTTPS client that checks
the device certificate against the test's CA under smart-connect.local: authentication,
lockout, the UI session, secrets never shown, every configuration field valid and
invalid, cross-origin refusals, security headers, plain HTTP's landing page, event
streams."""
import json
import os
import socket
import ssl
import time

import pytest

from simfw import Sim, metersim, wait_until
from webclient import NAME, Client, basic, password

ROUTES = (("GET", "/api/v1/config"), ("PATCH", "/api/v1/config"), ("GET", "/api/v1/status"),
          ("GET", "/api/v1/firmware"), ("POST", "/api/v1/reset"),
          ("GET", "/api/v1/events"), ("GET", "/api/v1/meter/telegram"),
          ("POST", "/api/v1/session"))
SECRETS = {"WiFi": {"SSID": "home-net", "Password": "wifi-SECRET-4711"},
           "MQTT": {"Username": "meter", "Password": "mqtt-SECRET-0815"}}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    flash = tmp_path_factory.mktemp("api") / "flash"
    with Sim(flash) as s:
        s.meter(metersim.synthetic(50), interval=0.5)
        s.client = Client(s, flash)
        s.flash = flash
        yield s


def config_bytes(sim):
    with open(os.path.join(str(sim.flash), "config.json"), "rb") as f:
        return f.read()


def test_public_route_and_every_other_needs_the_password(sim):
    c = sim.client
    status, body = c.json("GET", "/api", auth=None)
    assert status == 200 and body["product"] == "Smart Connect" and body["api"] == 1
    pw = password(sim.flash)
    for wrong in (None, basic("nope"), basic(pw + "x"), basic(pw[:-1]), basic(pw, "admin"),
                  "Bearer " + pw):
        for method, path in ROUTES:
            status, headers, data = c.request(method, path, auth=wrong,
                                              body={} if method != "GET" else None)
            assert status in (401, 429), (method, path, wrong, status)
            if status == 401:
                assert json.loads(data)["error"] == "auth:unauthorized"
                assert headers["www-authenticate"].startswith("Basic")
        wait_until(lambda: not c.request("GET", "/api/v1/firmware")[0] == 429, timeout=30)
    status, headers, _ = c.request("GET", "/api/v1/firmware", auth=None,
                                   headers={"X-SC-UI": "1"})
    assert status == 401 and "www-authenticate" not in headers  # the UI shows its own form


def test_failed_logins_lock_the_address_out_and_are_counted(sim):
    c = sim.client
    before = c.json("GET", "/api/v1/status")[1]["web"]
    for _ in range(5):
        assert c.request("GET", "/api/v1/status", auth=basic("wrong"))[0] == 401
    status, headers, data = c.request("GET", "/api/v1/status")  # even the right password
    assert status == 429 and json.loads(data)["error"] == "auth:locked"
    assert 1 <= int(headers["retry-after"]) <= 3
    time.sleep(int(headers["retry-after"]))
    status, st = c.json("GET", "/api/v1/status")
    assert status == 200
    assert st["web"]["failed_logins"] == before["failed_logins"] + 5
    assert st["web"]["lockouts"] == before["lockouts"] + 1


def test_one_ui_session_at_a_time(sim):
    c = sim.client
    status, headers, _ = c.request("POST", "/api/v1/session", headers={"X-SC-UI": "1"})
    assert status == 200
    cookie = headers["set-cookie"].split(";")[0]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    status, body = c.json("POST", "/api/v1/session")
    assert status == 409 and body["error"] == "auth:session-active"
    assert "log out" in body["reason"]
    status, st = c.json("GET", "/api/v1/status", auth=None, headers={"Cookie": cookie})
    assert status == 200 and st["web"]["session"] is True
    # A cookie alone cannot change anything without the page's own origin.
    status, _, _ = c.request("DELETE", "/api/v1/session", auth=None,
                             headers={"Cookie": cookie})
    assert status == 403
    origin = {"Cookie": cookie, "Origin": "https://smart-connect.local:%d" % c.port}
    assert c.request("DELETE", "/api/v1/session", auth=None, headers=origin)[0] == 204
    assert c.request("GET", "/api/v1/status", auth=None, headers={"Cookie": cookie})[0] == 401
    status, headers, _ = c.request("POST", "/api/v1/session")
    assert status == 200
    c.request("DELETE", "/api/v1/session", headers={"Cookie": headers["set-cookie"]})


def test_cross_origin_state_changes_are_refused(sim):
    c = sim.client
    before = config_bytes(sim)
    for h in ({"Origin": "https://evil.example"}, {"Origin": "null"},
              {"Origin": "http://smart-connect.local:%d" % c.port},
              {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        status, body = c.json("PATCH", "/api/v1/config", {"MeterType": "Eastron-SDM630"},
                              headers=h)
        assert status == 403 and body["error"] == "csrf:cross-origin", h
        assert c.json("POST", "/api/v1/reset", {"mode": "reboot"}, headers=h)[0] == 403
    assert config_bytes(sim) == before
    status, body = c.json("PATCH", "/api/v1/config", {"MeterType": "PhoenixContact-EMPro"},
                          headers={"Sec-Fetch-Site": "same-origin"})
    assert status == 200


def test_no_state_change_over_get_and_security_headers_everywhere(sim):
    c = sim.client
    for method, path in (("GET", "/api/v1/reset"), ("GET", "/api/v1/session")):
        assert c.request(method, path)[0] == 405
    for method, path in (("GET", "/"), ("GET", "/api"), ("GET", "/api/v1/status"),
                         ("GET", "/nope"), ("GET", "/api/v1/config")):
        status, headers, _ = c.request(method, path)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert not [h for h in headers if h.startswith("access-control-")]
    status, headers, data = c.request("GET", "/", auth=None,
                                      headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and data[:2] == b"\x1f\x8b"


def test_plain_http_serves_only_the_landing_page(sim):
    c = sim.client
    for path in ("/", "/api/v1/status", "/api/v1/config", "/anything"):
        status, headers, data = c.plain("GET", path, {"Host": "smart-connect.local"})
        assert status == 200 and b"https://smart-connect.local:%d/" % c.port in data
        assert b"serial" not in data and b"MeterType" not in data
    status, _, data = c.plain("GET", "/", {"Host": '"><script>x</script>'})
    assert b"<script>x" not in data and b"https://smart-connect.local:" in data
    for method in ("POST", "PATCH", "DELETE"):
        assert c.plain(method, "/api/v1/config")[0] == 405


def test_secrets_are_never_shown_logged_or_returned(sim):
    c = sim.client
    status, body = c.json("PATCH", "/api/v1/config", SECRETS)
    assert status == 200 and body["config"]["WiFi"]["Password"] == "********"
    seen = []
    for method, path in (("GET", "/api/v1/config"), ("GET", "/api/v1/status"),
                         ("GET", "/api/v1/firmware"), ("GET", "/api"), ("GET", "/")):
        seen.append(c.request(method, path)[2])
    seen.append(c.request("PATCH", "/api/v1/config", {"MeterType": "nope"})[2])
    for blob in seen:
        for secret in ("wifi-SECRET-4711", "mqtt-SECRET-0815", password(sim.flash)):
            assert secret.encode() not in blob
    # The console shows the label once, when the sim provisions its flash (the factory's
    # label printer); the planted secrets never.
    for secret in ("wifi-SECRET-4711", "mqtt-SECRET-0815"):
        assert secret not in sim.output()
    # "********" keeps the stored secret; the file has it, the API never shows it.
    status, body = c.json("PATCH", "/api/v1/config",
                          {"WiFi": {"Password": "********", "SSID": "other-net"}})
    assert status == 200
    stored = json.loads(config_bytes(sim))
    assert stored["WiFi"] == dict(stored["WiFi"], SSID="other-net", Password="wifi-SECRET-4711")


VALID = (
    {"MeterType": "Eastron-SDM630"}, {"MeterType": "Inepro-PRO380"},
    {"DefaultNetIf": "WiFi", "WiFi": {"SSID": "x"}}, {"DefaultNetIf": "Ethernet"},
    {"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.10.101",
                                                      "Netmask": "24",
                                                      "Gateway": "192.168.10.1",
                                                      "DNS": "192.168.10.1"}}},
    {"Ethernet": {"IpMode": "DHCP"}},
    {"WiFi": {"SSID": "a" * 32, "Password": "12345678"}},
    {"WiFi": {"Password": "p" * 63}}, {"WiFi": {"Password": ""}},
    {"WiFi": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.0.0.2", "Netmask": "8"}}},
    {"MQTT": {"Broker": "mqtts://broker.lan:8883", "Site": "home", "HomeAssistant": True}},
    {"MQTT": {"Username": "u", "Password": "p"}}, {"MQTT": {"Broker": ""}},
    {"Modbus": {"StaleAfter": 1, "IdleTimeout": 86400}},
    {"Modbus": {"StaleAfter": 3600, "IdleTimeout": 60}},
)
INVALID = (
    ({"MeterType": "ABB-B23"}, "MeterType"),
    ({"DefaultNetIf": "LTE"}, "DefaultNetIf"),
    ({"DefaultNetIf": "WiFi", "WiFi": {"SSID": ""}}, "WiFi.SSID"),
    ({"Ethernet": {"IpMode": "static"}}, "Ethernet.IpMode"),
    ({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": ""}}},
     "Ethernet.StaticIPv4.IpAddress"),
    ({"Ethernet": {"StaticIPv4": {"IpAddress": "192.168.1.256"}}},
     "Ethernet.StaticIPv4.IpAddress"),
    ({"Ethernet": {"StaticIPv4": {"Gateway": "fe80::1"}}}, "Ethernet.StaticIPv4.Gateway"),
    ({"Ethernet": {"StaticIPv4": {"Netmask": "33"}}}, "Ethernet.StaticIPv4.Netmask"),
    ({"Ethernet": {"StaticIPv4": {"Netmask": 24}}}, "Ethernet.StaticIPv4.Netmask"),
    ({"WiFi": {"SSID": "a" * 33}}, "WiFi.SSID"),
    ({"WiFi": {"Password": "short"}}, "WiFi.Password"),
    ({"WiFi": {"Password": "p" * 64}}, "WiFi.Password"),
    ({"WiFi": {"Password": "pässwört-long"}}, "WiFi.Password"),
    ({"MQTT": {"Broker": "mqtt://broker.lan"}}, "MQTT.Broker"),
    ({"MQTT": {"Enabled": True, "Broker": ""}}, "MQTT.Broker"),
    ({"MQTT": {"Enabled": "yes"}}, "MQTT.Enabled"),
    ({"MQTT": {"Site": "a/b"}}, "MQTT.Site"),
    ({"MQTT": {"Site": ""}}, "MQTT.Site"),
    ({"MQTT": {"HomeAssistant": 1}}, "MQTT.HomeAssistant"),
    ({"Modbus": {"StaleAfter": 0}}, "Modbus.StaleAfter"),
    ({"Modbus": {"IdleTimeout": 1.5}}, "Modbus.IdleTimeout"),
    ({"Modbus": "fast"}, "Modbus"),
    ({"Modbus": {"StaleAfter": [1]}}, "Modbus.StaleAfter"),
    ({"Colour": "red"}, "Colour"),
    ({"MQTT": {"Port": 1883}}, "MQTT.Port"),
)


def test_every_field_valid_and_invalid(sim):
    c = sim.client
    for change in VALID:
        status, body = c.json("PATCH", "/api/v1/config", change)
        assert status == 200, (change, body)
        status, got = c.json("GET", "/api/v1/config")
        for section, value in change.items():
            if isinstance(value, dict):
                for k, v in value.items():
                    if k != "Password" and not isinstance(v, dict):
                        assert got[section][k] == v, (section, k)
            else:
                assert got[section] == value
    for change, field in INVALID:
        before = config_bytes(sim)
        status, body = c.json("PATCH", "/api/v1/config", change)
        assert status == 400 and body["error"] == "config:invalid", (change, body)
        assert body["field"] == field and body["reason"], (change, body)
        assert config_bytes(sim) == before, change
    for raw in (b"{", b"[1, 2]", b"\xff\xfe", b'{"a": ' * 600 + b"1" + b"}" * 600):
        status, _, data = c.request("PATCH", "/api/v1/config", raw,
                                    headers={"Content-Type": "application/json"})
        assert status in (400, 413) and json.loads(data)["error"].startswith(
            ("request:", "config:")), raw[:20]


def test_network_changes_wait_for_a_reboot_and_the_answer_says_so(sim):
    status, body = sim.client.json("PATCH", "/api/v1/config",
                                   {"DefaultNetIf": "Ethernet", "MeterType": "Eastron-SDM630",
                                    "Ethernet": {"IpMode": "Static", "StaticIPv4": {
                                        "IpAddress": "192.168.7.7", "Netmask": "24"}}})
    assert status == 200
    assert body["applied"] == ["MeterType"] and body["after_reboot"] == ["Ethernet"]


def _stream(c, headers):
    """An event stream's TLS socket, its answer head already read."""
    s = c.ctx.wrap_socket(socket.create_connection(("127.0.0.1", c.port), timeout=15),
                          server_hostname=NAME)
    s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        NAME, "".join("%s: %s\r\n" % kv for kv in headers.items()))).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.0 200") and b"frame-ancestors 'none'" in head
    return s


def _next_reading(s):
    data = b""
    while True:
        data += s.recv(4096)
        for msg in data.split(b"\n\n")[:-1]:
            if msg.startswith(b"event: reading\ndata: "):
                return json.loads(msg[21:])


def test_event_streams_run_without_the_api_in_the_heap(sim):
    """A script's stream (Basic) lasts while it reads; a UI session's ends with its
    session. Neither keeps Microdot and the API loaded once it runs."""
    c = sim.client
    s = _stream(c, {"Authorization": c.auth})
    try:
        assert _next_reading(s)["power_w"] is not None
        st = sim.status_when(lambda st: st["web"]["event_streams"] == 1
                             and not st["web"]["https"]["api_loaded"])
        assert st["web"]["https"]["active"] == 1
        a, b = _next_reading(s), _next_reading(s)
        assert b["ts"] != a["ts"]  # still live after the API was let go
        status, body = c.json("GET", "/api/v1/status")  # loads it again
        assert status == 200 and body["web"]["https"]["api_loaded"]
        assert body["web"]["event_streams"] == 1
        # The whole API is back, its error answers too (Microdot's classes reloaded with it).
        status, body = c.json("GET", "/api/v1/no-such-path")
        assert status == 404 and body["error"] == "http:not-found"
    finally:
        s.close()
    status, headers, _ = c.request("POST", "/api/v1/session", headers={"X-SC-UI": "1"})
    cookie = headers["set-cookie"].split(";")[0]
    s = _stream(c, {"Cookie": cookie})
    try:
        _next_reading(s)
        sim.status_when(lambda st: st["web"]["event_streams"] == 1
                        and not st["web"]["https"]["api_loaded"])
        origin = {"Cookie": cookie, "Origin": "https://%s:%d" % (NAME, c.port)}
        assert c.request("DELETE", "/api/v1/session", auth=None, headers=origin)[0] == 204
        # The stream ends with the session: the firmware closes it, its client still open.
        sim.status_when(lambda st: st["web"]["event_streams"] == 0)
        end = time.monotonic() + 10
        try:
            while s.recv(4096):
                assert time.monotonic() < end, "the stream outlived its session"
        except (ConnectionError, ssl.SSLError):
            pass  # closed without TLS's goodbye
    finally:
        s.close()
    sim.status_when(lambda st: st["web"]["event_streams"] == 0
                    and not st["web"]["https"]["api_loaded"])
