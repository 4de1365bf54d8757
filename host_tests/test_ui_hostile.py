"""The web UI against hostile input in Chromium (harness: test_ui_chromium.py): pages on
another origin that try to change the device, and text from the meter and the
configuration that tries to run as HTML."""
import http.server
import json
import os
import ssl
import sys
import threading

import test_ui_chromium as ui

from broker import CA
from simfw import free_ports, metersim, wait_until
from tools import ROOT
from webclient import NAME

sys.path.insert(0, os.path.join(ROOT, "tools"))
import provision  # noqa: E402

device, browser = ui.device, ui.browser  # the fixtures
api, stored = ui.api, ui.stored

# Served from another origin: three requests that would change or read the configuration,
# then (the button) a plain form POST asking for a factory reset.
ATTACK = """<!DOCTYPE html><html><body><h1>Win a prize</h1>
<form id="f" method="post" enctype="text/plain" action="%(url)sapi/v1/reset">
<input name='{"mode":"factory","x":"' value='"}'><button id="go">go</button></form>
<script>
// One after the other: the device serves only 3 connections at once.
const u = "%(url)s", out = [];
const go = (name, init, path) => fetch(u + path, init)
  .then((r) => out.push(name + " " + (r.type === "opaque" ? "opaque" : r.status)),
        (e) => out.push(name + " blocked"));
go("patch", {method: "PATCH", credentials: "include",
  headers: {"Content-Type": "application/json"}, body: '{"MQTT": {"Site": "pwned"}}'},
  "api/v1/config")
  .then(() => go("reset", {method: "POST", mode: "no-cors", credentials: "include",
    body: '{"mode": "reboot"}'}, "api/v1/reset"))
  .then(() => go("read", {credentials: "include"}, "api/v1/config"))
  .then(() => { document.title = out.sort().join(", "); });
</script></body></html>"""


def serve(page, ctx=None):
    """An attacker's web server on a free port (TLS with ctx); returns (server, port)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_ports(1)[0]), Handler)
    if ctx:
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def answers(p, path):
    """Status codes the device answered for path, from Chromium's network log."""
    out = []
    for e in p.d.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m["method"] == "Network.responseReceived" and \
                m["params"]["response"]["url"] == p.url + path.lstrip("/"):
            out.append(m["params"]["response"]["status"])
    return out


def attack(p, scheme, host, tls):
    """The attacker's page from scheme://host:<free port>/ in p's browser: the device's
    answers to the two reset requests (the no-cors fetch, then the form POST)."""
    server, port = serve((ATTACK % {"url": p.url}).encode(), tls)
    try:
        answers(p, "")  # empties the log
        p.d.get("%s://%s:%d/" % (scheme, host, port))
        # No CORS headers, ever: the PATCH's preflight and the read fail; the simple
        # no-cors POST goes out and the device refuses it.
        p.wait(lambda: p.d.title.startswith("patch"))
        assert p.d.title == "patch blocked, read blocked, reset opaque"
        p.el("#go").click()
        got = []
        wait_until(lambda: got.extend(answers(p, "/api/v1/reset")) or len(got) >= 2)
        return got
    finally:
        server.shutdown()


def test_a_page_on_another_origin_cannot_change_anything(device, browser, tmp_path):
    """Two attackers while the user is logged in: a page on another site (the session
    cookie is SameSite=Strict: it never goes along) and a page on the device's own name
    but another port, same site (the cookie goes along; the Origin check refuses)."""
    p = browser()
    p.open()
    p.login(device.pw)
    p.shown("#ui")
    before = stored(device)
    up = api(device, "GET", "/api/v1/status")[1]["device"]["uptime_s"]
    # A certificate for smart-connect.local from the CA the browser trusts.
    ca = CA.__new__(CA)
    ca.key, ca.cert = provision.load_ca(device.ca, device.ca[:-3] + "key")
    cert, key = ca.issue(str(tmp_path), NAME, server=True, hosts=(NAME,))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    assert attack(p, "http", "127.0.0.1", None) == [403, 403]  # another site: refused first
    assert attack(p, "https", NAME, tls) == [403, 403]  # the cookie, from the wrong origin
    assert "csrf:cross-origin" in p.el("body").text  # the form POST's answer
    st = api(device, "GET", "/api/v1/status")[1]
    assert stored(device) == before and st["device"]["uptime_s"] >= up
    assert st["web"]["session"] and "rebooting" not in device.output()
    p.open()  # the user's own page still works, session and all
    p.shown("#ui")


def test_outside_text_is_shown_as_text(device, browser):
    ssid, site = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    assert api(device, "PATCH", "/api/v1/config", {
        "WiFi": {"SSID": ssid}, "MQTT": {"Site": site}})[0] == 200
    text = b"<script>alert(3)</script>"
    m = device.meter([telegram_with_text(text.hex().upper().encode())], interval=0.5)
    p = browser()
    p.open()
    p.login(device.pw)
    p.wait(lambda: ssid in p.text("#net"))
    p.tab("settings")
    p.wait(lambda: p.field("net", "WiFi.SSID").get_attribute("value") == ssid)
    assert p.field("mqtt", "MQTT.Site").get_attribute("value") == site
    # DSMR sends text messages hex-encoded: the raw view shows them so, and decoded as text.
    p.tab("maint")
    p.el("#readraw").click()
    p.wait(lambda: text.hex().upper() in p.text("#rawout"))
    assert p.text("#rawtext") == "Text message\n" + text.decode()
    p.shot("text-message")
    # A meter that sends the text as it is: shown as text too.
    m.close()
    device.meter([telegram_with_text(text)], interval=0.5)
    p.wait(lambda: p.el("#readraw").is_enabled())

    def read():
        p.el("#readraw").click()
        p.wait(lambda: p.el("#readraw").is_enabled())
        return "0-0:96.13.0(%s)" % text.decode() in p.text("#rawout")

    wait_until(read, timeout=30)
    p.shot("outside-text")
    assert p.d.execute_script("return document.scripts.length") == 1
    assert p.d.execute_script("return document.images.length") == 0


def telegram_with_text(text):
    """A valid DSMR 5 telegram whose 0-0:96.13.0 (text message) holds text as given."""
    frame = metersim.synthetic(1)[0]
    body = frame[:frame.rindex(b"!")] + b"0-0:96.13.0(" + text + b")\r\n!"
    return body + b"%04X\r\n" % metersim.crc16_py(body, 0, len(body))
