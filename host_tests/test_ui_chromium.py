"""The web UI in a real browser: Debian's Chromium, headless, driven by selenium, against the
real firmware on the sim. Chromium reaches the device as https://smart-connect.local:<port>/
(the name mapped to 127.0.0.1) and trusts only the test's CA, put into an NSS database in
the browser's own HOME, so the certificate and its name are checked as on a LAN. Every
page's console is checked for Content-Security-Policy violations. Screenshots at phone
and desktop width go to build/screenshots/."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from simfw import Sim, metersim, wait_until
from tools import ROOT
from webclient import NAME, Client, password

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = os.path.join(ROOT, "build", "screenshots")
PHONE, DESKTOP = (390, 844), (1280, 900)
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP %s 127.0.0.1" % NAME)


def chromium(folder, ca, lang="en-US"):
    """A headless Chromium with a fresh profile in folder that trusts ca (PEM) only."""
    assert all(map(shutil.which, (CHROMIUM, CHROMEDRIVER, "certutil"))), \
        "make system installs chromium, chromium-driver and libnss3-tools (certutil)"
    nss = os.path.join(folder, ".pki", "nssdb")  # Chromium's NSS store under $HOME
    os.makedirs(nss)
    for args in (("-N", "--empty-password"), ("-A", "-n", "sc-test-ca", "-t", "C,,", "-i", ca)):
        subprocess.run(["certutil", "-d", "sql:" + nss, *args], check=True, capture_output=True)
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in FLAGS + ("--user-data-dir=" + os.path.join(folder, "profile"), "--lang=" + lang):
        o.add_argument(a)
    o.add_experimental_option("prefs", {"intl.accept_languages": lang})
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(CHROMEDRIVER, env=dict(os.environ, HOME=folder))
    d = webdriver.Chrome(options=o, service=service)
    d.set_window_size(*DESKTOP)
    return d


class Page:
    """One browser on the device's page."""

    def __init__(self, driver, url):
        self.d, self.url = driver, url
        self.logs = []

    def open(self, path="/"):
        self.d.get(self.url + path.lstrip("/"))

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.el(css).text

    def wait(self, check, timeout=20):
        return WebDriverWait(self.d, timeout, 0.05).until(lambda d: check())

    def shown(self, css):
        return self.wait(lambda: self.el(css).is_displayed() and self.el(css))

    def login(self, pw):
        field = self.shown("#login [name=pw]")
        field.clear()
        field.send_keys(pw)
        self.el("#login button").click()

    def tab(self, name):
        self.el("nav button[data-tab=%s]" % name).click()
        return self.shown("#" + name)

    def field(self, form, name):
        return self.el("#f-%s [name='%s']" % (form, name))

    def type(self, form, name, value):
        f = self.field(form, name)
        f.clear()
        f.send_keys(value)

    def save(self, form):
        """Presses the form's Save button; its message once the device answered."""
        self.el("#f-%s .row button" % form).click()
        return self.wait(lambda: (m := self.text("#f-%s .row .msg" % form)) and
                         not m.endswith("…") and m)

    def shot(self, name):
        """Full-page screenshots at phone and desktop width (mobile emulation for the phone)."""
        os.makedirs(SHOTS, exist_ok=True)
        for kind, (w, h) in (("phone", PHONE), ("desktop", DESKTOP)):
            m = {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": kind == "phone"}
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", m)
            full = self.d.execute_script("return document.documentElement.scrollHeight")
            m["height"] = max(h, full)
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", m)
            self.d.save_screenshot(os.path.join(SHOTS, "%s-%s.png" % (kind, name)))
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def console(self):
        self.logs += self.d.get_log("browser")
        return self.logs


@pytest.fixture
def device(tmp_path, request):
    """The sim; parametrized with "rs485" (indirect), a P1MB's: its RTU slave on a pty."""
    args = []
    if getattr(request, "param", None) == "rs485":
        args = ["--rs485", request.getfixturevalue("pty_pair")[0]]
    flash = tmp_path / "flash"
    with Sim(flash, args=args) as s:
        s.flash = flash
        s.client = Client(s, flash)
        s.pw = password(flash)
        s.ca = os.path.join(str(flash), "ca", "ca.crt")
        s.url = "https://%s:%d/" % (NAME, s.https_port)
        yield s


@pytest.fixture
def browser(device):
    """browser(lang=...): a new Chromium on the device's page, each with its own profile.
    At the end: no page broke the Content-Security-Policy or raised an alert."""
    pages, folders = [], []

    def new(lang="en-US"):
        folders.append(tempfile.mkdtemp(prefix="sc-chromium-"))
        p = Page(chromium(folders[-1], device.ca, lang), device.url)
        pages.append(p)
        return p

    yield new
    try:
        for p in pages:
            try:
                alert = p.d.switch_to.alert
            except NoAlertPresentException:
                alert = None
            assert alert is None, "a page raised an alert: %s" % alert.text
            bad = [e["message"] for e in p.console() if "Content Security Policy" in e["message"]
                   or "Uncaught" in e["message"]]
            assert not bad, bad
    finally:
        for p in pages:
            p.d.quit()
        for f in folders:
            shutil.rmtree(f, ignore_errors=True)


def api(device, method, path, body=None):
    """(status, JSON) from the device's API. The browser holds some of its 3 HTTPS
    connections: a request over the limit is refused (503) or closed, so it is retried."""
    for _ in range(20):
        try:
            status, data = device.client.json(method, path, body)
            if status != 503:
                return status, data
        except OSError:  # ssl.SSLError and connection resets among them
            pass
        time.sleep(0.5)
    raise AssertionError("the device refused %s %s 20 times" % (method, path))


def stored(device):
    with open(os.path.join(str(device.flash), "config.json")) as f:
        return json.load(f)


def test_log_in_see_live_values_save_settings_and_log_out(device, browser):
    device.meter(metersim.synthetic(30, seed=3), interval=0.5)
    p = browser()
    p.open()
    p.shown("#login")
    assert p.el("#ui").is_displayed() is False and p.text("#loginmsg") == ""
    p.shot("login")
    p.login("wrong-password")
    p.wait(lambda: p.text("#loginmsg") == "Wrong password.")
    p.login(device.pw)
    p.shown("#ui")
    # Live values over the event stream: the net power changes with every telegram.
    first = p.wait(lambda: p.text("#pw") not in ("", "–") and p.text("#pw"))
    p.wait(lambda: p.text("#pw") != first)
    assert p.text("#power_l1_w") != "–" and p.text("#voltage_l2_v") == "231"
    p.wait(lambda: len(p.el("#line").get_attribute("points").split()) >= 3)
    # the sim: link and network up, internet (the host's clock as network time), MQTT off
    p.wait(lambda: [li.get_attribute("class") for li in
                    p.d.find_elements(By.CSS_SELECTOR, "#ind li")] == ["ok", "ok", "ok", "unk"])
    # the LED as a dot in its colour, with its pattern
    p.wait(lambda: p.text("#led") == "LED: normal")
    assert p.el("#leddot").value_of_css_property("background-color") == "rgba(67, 160, 71, 1)"
    # (the API asked once: every request is a TLS handshake for the device's 3 slots)
    serial = api(device, "GET", "/api/v1/status")[1]["device"]["serial"]
    p.wait(lambda: "dsmr5" in p.text("#meter") and serial in p.text("#sys"))
    p.shot("status")

    # MQTT: the device's field error shown beside the field, nothing saved.
    p.tab("settings")
    p.wait(lambda: p.field("mqtt", "MQTT.Site").get_attribute("value") == "unknown-site")
    assert not p.el("#f-rs485").is_displayed()  # the sim without --rs485 has no RS485 slave
    p.field("mqtt", "MQTT.Enabled").click()
    p.type("mqtt", "MQTT.Broker", "mqtt://broker.lan")
    assert "MQTT.Broker" in p.save("mqtt")
    err = p.el("#f-mqtt [name='MQTT.Broker'] ~ .err")
    assert err.is_displayed() and "only mqtts://" in err.text
    assert "invalid" in p.field("mqtt", "MQTT.Broker").get_attribute("class")
    assert stored(device)["MQTT"]["Enabled"] is False
    p.tab("settings")
    p.shot("settings-error")

    p.type("mqtt", "MQTT.Broker", "mqtts://broker.lan:8883")
    p.type("mqtt", "MQTT.Site", "home")
    p.type("mqtt", "MQTT.Username", "meter")
    p.type("mqtt", "MQTT.Password", "mqtt-secret-1")
    show = p.el("#f-mqtt [name='MQTT.Password'] + button")
    show.click()
    assert p.field("mqtt", "MQTT.Password").get_attribute("type") == "text"
    show.click()
    assert p.field("mqtt", "MQTT.Password").get_attribute("type") == "password"
    p.field("mqtt", "MQTT.HomeAssistant").click()
    assert p.save("mqtt") == "Saved. Applied now: MQTT."
    assert not err.is_displayed()
    status, cfg = api(device, "GET", "/api/v1/config")
    assert status == 200 and cfg["MQTT"] == {
        "Enabled": True, "Broker": "mqtts://broker.lan:8883", "Site": "home",
        "Username": "meter", "Password": "********", "HomeAssistant": True}
    # The form shows the mask; saved again untouched, the stored secret stays.
    assert p.field("mqtt", "MQTT.Password").get_attribute("value") == "********"
    p.type("mqtt", "MQTT.Site", "home-2")
    assert p.save("mqtt") == "Saved. Applied now: MQTT."
    assert stored(device)["MQTT"]["Password"] == "mqtt-secret-1"
    assert stored(device)["MQTT"]["Site"] == "home-2"

    # Network: static fields appear with IpMode Static; applies after a reboot.
    assert not p.field("net", "WiFi.StaticIPv4.IpAddress").is_displayed()
    Select(p.field("net", "DefaultNetIf")).select_by_value("WiFi")
    p.type("net", "WiFi.SSID", "home-net")
    p.type("net", "WiFi.Password", "wifi-pass-42")
    Select(p.field("net", "WiFi.IpMode")).select_by_value("Static")
    assert p.field("net", "WiFi.StaticIPv4.IpAddress").is_displayed()
    p.type("net", "WiFi.StaticIPv4.IpAddress", "192.168.1.300")
    assert "WiFi.StaticIPv4.IpAddress" in p.save("net")
    assert "IPv4" in p.text("#f-net [name='WiFi.StaticIPv4.IpAddress'] ~ .err")
    p.type("net", "WiFi.StaticIPv4.IpAddress", "192.168.1.30")
    p.type("net", "WiFi.StaticIPv4.Gateway", "192.168.1.1")
    p.type("net", "WiFi.StaticIPv4.DNS", "192.168.1.1")
    assert p.save("net") == "Saved. Takes effect after a reboot: DefaultNetIf, WiFi."
    cfg = api(device, "GET", "/api/v1/config")[1]
    assert cfg["DefaultNetIf"] == "WiFi" and cfg["WiFi"] == {
        "IpMode": "Static", "SSID": "home-net", "Password": "********",
        "StaticIPv4": {"IpAddress": "192.168.1.30", "Netmask": "24",
                       "Gateway": "192.168.1.1", "DNS": "192.168.1.1"}}
    assert stored(device)["WiFi"]["Password"] == "wifi-pass-42"
    assert cfg["Ethernet"]["IpMode"] == "DHCP"
    p.tab("status")
    p.wait(lambda: "home-net" in p.text("#net"))
    p.tab("settings")
    p.shot("settings")

    # Maintenance: firmware, a Modbus request in the ring, a raw telegram as text.
    from pymodbus.client import ModbusTcpClient
    c = ModbusTcpClient("127.0.0.1", port=device.modbus_port)
    assert c.connect() and not c.read_holding_registers(0x8016, count=2).isError()
    assert not c.read_input_registers(0x0034, count=2).isError()  # an SDM630 client
    c.close()
    version = api(device, "GET", "/api/v1/firmware")[1]["version"]
    p.tab("maint")
    p.wait(lambda: version in p.text("#fw"))
    p.wait(lambda: "32790" in p.text("#ring"))  # 0x8016
    p.wait(lambda: "0x0034 ×1" in p.text("#mbstat"))  # read outside the template
    p.el("#readraw").click()
    p.wait(lambda: p.text("#rawout").startswith("/ISK5\\2M550T-1012"))
    assert re.search(r"\n![0-9A-F]{4}$", p.text("#rawout"))
    p.shot("maintenance")

    p.el("#logout").click()
    p.shown("#login")
    assert not p.el("#ui").is_displayed() and p.text("#loginmsg") == ""
    wait_until(lambda: not api(device, "GET", "/api/v1/status")[1]["web"]["session"],
               step=0.5)
    p.open()  # the cookie no longer opens anything
    p.shown("#login")


def test_a_second_browser_is_refused_while_the_first_session_lasts(device, browser):
    device.meter(metersim.synthetic(5), interval=1)
    a, b = browser(), browser()
    a.open()
    a.login(device.pw)
    a.shown("#ui")
    b.open()
    b.login(device.pw)
    msg = b.wait(lambda: b.text("#loginmsg"))
    assert re.match(r"Another session is active\. It ends in (9 min \d+ s|10 min 0 s) at the "
                    r"latest \(sooner if that user logs out\)\.\nanother user is logged in", msg)
    assert not b.el("#ui").is_displayed()
    b.shot("session-active")
    a.el("#logout").click()
    a.shown("#login")
    b.login(device.pw)
    b.shown("#ui")
    b.wait(lambda: b.text("#pw") not in ("", "–"))


def test_factory_reset_asks_first_then_erases_the_configuration(device, browser):
    assert api(device, "PATCH", "/api/v1/config", {"MQTT": {"Site": "kept?"}})[0] == 200
    p = browser()
    p.open()
    p.login(device.pw)
    p.shown("#ui")
    p.tab("maint")
    p.el("#factory").click()
    p.shown("#confirm")
    p.el("#cancel").click()
    assert not p.el("#confirm").is_displayed() and stored(device)["MQTT"]["Site"] == "kept?"
    p.el("#factory").click()
    p.shown("#confirm [data-mode=factory]").click()
    p.wait(lambda: p.text("#resetmsg") == "The device is restarting…")
    p.wait(lambda: p.text("#loginmsg") == "The device is back. Please log in.", timeout=60)
    assert "firmware rebooting" in device.output()
    assert api(device, "GET", "/api/v1/config")[1]["MQTT"]["Site"] == "unknown-site"
    p.login(device.pw)
    p.shown("#ui")


def test_language_follows_the_browser(device, browser):
    for lang, html, login, tab in (("nl-NL", "nl", "Inloggen", "Instellingen"),
                                   ("fr-FR", "fr", "Connexion", "Réglages"),
                                   ("de-DE", "en", "Log in", "Settings")):
        p = browser(lang)
        p.open()
        button = p.shown("#login button")
        p.wait(lambda b=button, want=login: b.text == want)
        assert p.d.execute_script("return document.documentElement.lang") == html
        assert p.el("nav button[data-tab=settings]").get_attribute("textContent") == tab


@pytest.mark.parametrize("device", ["rs485"], indirect=True)
def test_the_rs485_settings_of_a_p1mb(device, browser):
    """Only a board with the RS485 slave shows them; a bad address is named and changes
    nothing; the new settings apply after a reboot, as the answer says."""
    p = browser()
    p.open()
    p.login(device.pw)
    p.shown("#ui")
    p.tab("settings")
    p.shown("#f-rs485")
    baud, parity = Select(p.field("rs485", "RS485.Baud")), Select(p.field("rs485", "RS485.Parity"))
    p.wait(lambda: p.field("rs485", "RS485.Address").get_attribute("value") == "16")
    assert baud.first_selected_option.text == "9600"
    assert parity.first_selected_option.text == "8E1"
    before = stored(device)
    p.type("rs485", "RS485.Address", "300")
    assert "RS485.Address" in p.save("rs485")
    assert p.el("#f-rs485 [name='RS485.Address'] ~ .err").is_displayed()
    assert stored(device) == before
    p.type("rs485", "RS485.Address", "33")
    baud.select_by_value("19200")
    parity.select_by_value("N")
    assert p.save("rs485") == "Saved. Takes effect after a reboot: RS485."
    assert api(device, "GET", "/api/v1/config")[1]["RS485"] == {
        "Address": 33, "Baud": 19200, "Parity": "N"}
    p.shot("settings-rs485")
