"""The network manager, the button and the LED on the real firmware, driven through
tools/sim.py's control port: DHCP failing and link-local, Wi-Fi lost and back, a cable
pulled for a minute and 100 link flaps (Modbus, HTTPS and MQTT on a real mosquitto serve
again, no restart, no heap growth), each button press timeline, and the LED pattern in
the status for every condition of SPEC section 9 ("booting" ends before the status
exists: host_tests/core/test_led.py has it)."""
import os
import socket
import time

from pymodbus.client import ModbusTcpClient
from test_sim_mqtt import base, mqtt_config

from device import config
from device.config import DEFAULTS
from net.manager import link_local
from simfw import Sim, metersim, wait_until
from tools import ROOT
from webclient import Client

FRAMES = metersim.load([os.path.join(ROOT, "corpus", "dsmr", "v5.txt")])
SIM_MAC = b"\x02\x53\x43\x00\x12\x34"  # boards/sim/simnet.py


def modbus_read(port):
    """The power registers, or None when Modbus does not answer."""
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        if not c.connect():
            return None
        r = c.read_holding_registers(0x8016, count=2)
        return None if r.isError() else r.registers
    finally:
        c.close()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
        return False
    except ConnectionRefusedError:
        return True


def pattern(sim, name, timeout=15):
    return sim.status_when(lambda s: s["led"]["pattern"] == name, timeout)


def net(st):
    n = st["network"]
    return n["interface"], n["link"], n["address"], n["method"]


def test_dhcp_failing_link_local_then_dhcp_and_every_led_pattern(tmp_path):
    cfg = {"Modbus": {"StaleAfter": 2, "IdleTimeout": 60}}
    with Sim(tmp_path / "flash", cfg) as sim:
        st = sim.status_when(lambda s: s["network"]["method"] == "dhcp")
        assert net(st) == ("Ethernet", True, "127.0.0.1", "dhcp")
        assert st["led"]["pattern"] == "initializing"  # no meter data yet
        m = sim.meter(FRAMES, interval=0.2)
        st = pattern(sim, "normal")
        assert st["led"]["colour"] == "green"
        assert st["network"]["indicators"]["link"] and st["network"]["indicators"]["network"]

        assert sim.control("dhcp fail") == "ok"
        assert sim.control("link down") == "ok"
        st = pattern(sim, "no-ip")
        assert net(st) == ("Ethernet", False, None, "none")
        assert st["network"]["indicators"] == {"link": False, "network": False,
                                               "internet": False, "mqtt": None}
        # no address: nobody listens
        wait_until(lambda: refused(sim.modbus_port) and refused(sim.https_port))
        assert sim.control("link up") == "ok"
        st = sim.status_when(lambda s: s["network"]["method"] == "link-local")
        assert net(st) == ("Ethernet", True, link_local(SIM_MAC), "link-local")
        assert st["network"]["address"] == "169.254.53.18"
        assert st["network"]["dhcp_failures"] == 3 and st["led"]["pattern"] == "normal"
        assert wait_until(lambda: modbus_read(sim.modbus_port))
        web = Client(sim, tmp_path / "flash")
        assert wait_until(lambda: web.json("GET", "/api/v1/status")[0] == 200)
        assert sim.control("dhcp ok") == "ok"
        st = sim.status_when(lambda s: s["network"]["method"] == "dhcp")
        assert net(st) == ("Ethernet", True, "127.0.0.1", "dhcp")

        m.pause()
        st = pattern(sim, "no-meter")
        assert st["led"]["colour"] in ("red", "green")
        assert sim.control("link down") == "ok"
        pattern(sim, "no-meter-no-ip")
        assert sim.control("link up") == "ok"
        pattern(sim, "no-meter")
        assert sim.control("button 6") == "ok"  # factory state: the access point
        st = pattern(sim, "ap-no-meter")
        assert st["network"]["ap"] == "192.168.71.1"
        m.resume()
        pattern(sim, "ap")

        for bad in ("link sideways", "button x", "button 0", "reboot", "wifi"):
            assert sim.control(bad).startswith("error"), bad
    assert "sim: firmware" not in sim.output()  # never restarted


def test_button_press_timelines_and_wifi_station(tmp_path):
    flash = tmp_path / "flash"
    with Sim(flash) as sim:
        m = sim.meter(FRAMES, interval=0.2)
        before = wait_until(lambda: modbus_read(sim.modbus_port) != [0, 0] and
                            modbus_read(sim.modbus_port))
        ident = {n: open(os.path.join(str(flash), "identity", n), "rb").read()
                 for n in os.listdir(os.path.join(str(flash), "identity"))}
        # 3 s and 31 s do nothing; the soft reset after them shows they were handled
        for cmd in ("button 3", "button 31", "button 0.5"):
            assert sim.control(cmd) == "ok"
        wait_until(lambda: "sim: firmware soft reset" in sim.output(), timeout=20)
        m.close()
        assert [ln for ln in sim.lines if ln.startswith("button:")] == ["button: soft-reset\n"]
        st = sim.status_when(lambda s: s["device"]["reset_cause"] == "soft", timeout=30)
        sim.meter(FRAMES, interval=0.2)  # the meter's cable, reconnected (as sim.py does)
        # the same telegram replayed: the values continue
        wait_until(lambda: modbus_read(sim.modbus_port) == before)

        assert sim.control("button 6") == "ok"  # factory state: the access point
        st = sim.status_when(lambda s: s["network"]["ap"] == "192.168.71.1")
        assert st["led"]["pattern"] == "ap"

        # Commissioning through the access point: the Wi-Fi settings, then a soft reset.
        web = Client(sim, flash)
        status, body = web.json("PATCH", "/api/v1/config", {
            "DefaultNetIf": "WiFi", "WiFi": {"SSID": "home", "Password": "p4ssw0rd!"}})
        assert status == 200 and sorted(body["after_reboot"]) == ["DefaultNetIf", "WiFi"]
        assert sim.control("button 6") == "ok"  # no longer in factory state: the LED says no
        st = sim.status_when(lambda s: s["led"]["showing"] == "refused")
        assert st["led"]["pattern"] == "ap"

        assert sim.control("button 1") == "ok"
        wait_until(lambda: sim.output().count("sim: firmware soft reset") == 2, timeout=20)
        st = sim.status_when(lambda s: s["network"]["interface"] == "WiFi" and
                             s["network"]["method"] == "dhcp", timeout=30)
        assert st["network"]["ap"] is None
        sim.meter(FRAMES, interval=0.2)
        pattern(sim, "normal")
        assert sim.control("wifi lost") == "ok"
        st = sim.status_when(lambda s: not s["network"]["link"])
        assert net(st) == ("WiFi", False, None, "none") and st["led"]["pattern"] == "no-ip"
        assert sim.control("wifi back") == "ok"
        sim.status_when(lambda s: net(s) == ("WiFi", True, "127.0.0.1", "dhcp"))

        assert sim.control("button 12") == "ok"  # factory reset
        wait_until(lambda: "sim: firmware rebooting" in sim.output(), timeout=20)
        st = sim.status_when(lambda s: s["device"]["reset_cause"] == "reboot", timeout=30)
        assert st["network"]["interface"] == "Ethernet"
        assert config.load(os.path.join(str(flash), "config.json")) == (DEFAULTS, [])
        for name, data in ident.items():
            assert open(os.path.join(str(flash), "identity", name), "rb").read() == data
        assert [ln for ln in sim.lines if ln.startswith("button:")] == [
            "button: soft-reset\n", "button: access-point\n", "button: soft-reset\n",
            "button: factory-reset\n"]


def _flap(sim):
    downs = sim.output().count("sim: link down")
    assert sim.control("link down") == "ok"
    wait_until(lambda: sim.output().count("sim: link down") > downs, step=0.01)
    dhcp = sim.output().count("sim: network dhcp")
    assert sim.control("link up") == "ok"
    wait_until(lambda: sim.output().count("sim: network dhcp") > dhcp, step=0.01)


def test_cable_out_a_minute_then_100_flaps_services_recover_without_restart(
        tmp_path, ca, broker):
    """On the device gauge (32-bit, frozen, the ESP32's 96 KB heap)."""
    flash = tmp_path / "flash"
    ca.provision(flash, "SCNET")
    sub = broker.subscribe()
    with Sim(flash, mqtt_config(broker.url()), heap="96k", args=("--frozen32",)) as sim:
        sim.meter(FRAMES, interval=0.5)
        sim.status_when(lambda s: s["mqtt"]["connected"], timeout=30)
        # Plain HTTP (the landing page) here; HTTPS recovery is checked on the 64-bit build.
        web = Client(sim, flash, ca=ca.cert_path)
        assert web.plain("GET", "/")[0] == 200
        assert wait_until(lambda: modbus_read(sim.modbus_port))

        assert sim.control("link down") == "ok"
        down = time.monotonic()
        st = sim.status_when(lambda s: not s["network"]["link"] and
                             s["mqtt"]["state"] != "connected")
        wait_until(lambda: refused(sim.modbus_port) and refused(sim.http_port))
        # A minute without link: the interface keeps being restarted, with backoff.
        st = sim.status_when(lambda s: time.monotonic() - down >= 60, timeout=75)
        assert 3 <= st["network"]["starts"] <= 8, st["network"]
        start = len(sub.messages)
        assert sim.control("link up") == "ok"
        up = time.monotonic()
        assert wait_until(lambda: modbus_read(sim.modbus_port), timeout=10)
        wait_until(lambda: web.plain("GET", "/")[0] == 200, timeout=10)
        sim.status_when(lambda s: s["mqtt"]["connected"], timeout=10)
        sub.wait(base("SCNET") + "data/instantaneous", start, timeout=10)
        print("serving again %.1f s after the link came back" % (time.monotonic() - up))

        for _ in range(10):
            _flap(sim)
        first = sim.status_when(lambda s: s["mqtt"]["connected"], timeout=20)
        for _ in range(90):
            _flap(sim)
        end = sim.status_when(lambda s: s["mqtt"]["connected"], timeout=20)
        assert wait_until(lambda: modbus_read(sim.modbus_port), timeout=10)
        assert web.plain("GET", "/")[0] == 200
        print("heap live after 10 flaps %d, after 100 %d, peak %d" % (
            first["heap"]["live"], end["heap"]["live"], end["heap"]["peak_live"]))
        assert end["heap"]["live"] <= first["heap"]["live"] + 1024
        assert end["device"]["reset_cause"] == "power-on"
        assert end["device"]["uptime_s"] >= 70
    out = sim.output()
    assert "sim: firmware" not in out and "MemoryError" not in out
