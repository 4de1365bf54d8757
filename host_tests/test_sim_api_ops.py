"""What the API changes, checked where it shows: the Modbus template at once over Modbus,
a new broker at once at a real mosquitto, settings surviving a restart, the three reset
modes, and power loss in the middle of a configuration write (SIGKILL, >= 200 times)."""
import http.client
import json
import os
import random
import signal
import struct
import subprocess
import threading

from test_sim_mqtt import base, mqtt_config

from broker import Broker
from simfw import Sim, metersim, wait_until
from tools import MICROPYTHON, ROOT
from webclient import Client


def read_regs(port, addr, count):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 4, addr, count))
        data = b""
        while len(data) < 9 + 2 * count:
            data += s.recv(512)
    return struct.unpack(">%dH" % count, data[9:9 + 2 * count])


def test_template_change_is_visible_over_modbus_at_once(tmp_path):
    with Sim(tmp_path / "flash") as sim:
        c = Client(sim, tmp_path / "flash")
        sim.meter(metersim.synthetic(100), interval=0.5)
        wait_until(lambda: read_regs(sim.modbus_port, 0x8016, 2) != (0, 0))
        assert read_regs(sim.modbus_port, 0x0034, 2) == (0, 0)  # SDM630's total: unmapped
        sim.meters[0].pause()  # no new telegram: the change alone must rebuild the image
        status, body = c.json("PATCH", "/api/v1/config", {"MeterType": "Eastron-SDM630"})
        assert status == 200 and body["applied"] == ["MeterType"]
        total = struct.unpack(">f", struct.pack(">HH", *read_regs(sim.modbus_port, 0x0034,
                                                                  2)))[0]
        assert total > 0 and read_regs(sim.modbus_port, 0x8016, 2) == (0, 0)
        assert c.json("GET", "/api/v1/status")[1]["modbus"]["template"] == "Eastron-SDM630"


def test_template_change_before_the_first_telegram_changes_the_identification(tmp_path):
    with Sim(tmp_path / "flash") as sim:  # no meter connected
        c = Client(sim, tmp_path / "flash")
        assert read_regs(sim.modbus_port, 0xFC02, 1) == (0,)  # the EMpro has nothing there
        assert c.json("PATCH", "/api/v1/config", {"MeterType": "Eastron-SDM630"})[0] == 200
        assert read_regs(sim.modbus_port, 0xFC02, 1) == (0x0070,)  # SDM630's meter code


def test_a_new_broker_takes_over_without_a_reboot(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCMOVE")
    other = Broker(tmp_path / "other", ca)
    sub_a, sub_b = broker.subscribe(), other.subscribe()
    try:
        with Sim(tmp_path / "flash", mqtt_config(broker.url())) as sim:
            c = Client(sim, tmp_path / "flash", ca=ca.cert_path)
            sim.meter(metersim.synthetic(100), interval=0.2)
            sub_a.wait(base("SCMOVE") + "data/instantaneous")
            status, body = c.json("PATCH", "/api/v1/config", {"MQTT": {"Broker": other.url()}})
            assert status == 200 and body["applied"] == ["MQTT"]
            sub_b.wait(base("SCMOVE") + "data/instantaneous", timeout=20)
            st = sim.status_when(lambda s: s["mqtt"]["connected"])
            assert st["mqtt"]["broker"] == other.url()
            assert "rebooting" not in sim.output()
            # The old broker saw the device go (its last will), and nothing after.
            wait_until(lambda: sub_a.on(base("SCMOVE") + "status")[-1][2] == b"offline")
    finally:
        other.close()


def test_settings_survive_a_reboot_and_reset_modes_do_what_they_say(tmp_path):
    flash = tmp_path / "flash"
    with Sim(flash) as sim:
        c = Client(sim, flash)
        ident = {n: open(os.path.join(str(flash), "identity", n), "rb").read()
                 for n in os.listdir(os.path.join(str(flash), "identity"))}
        change = {"MeterType": "Inepro-PRO380", "Modbus": {"StaleAfter": 17},
                  "WiFi": {"SSID": "home", "Password": "p4ssw0rd!"}}
        assert c.json("PATCH", "/api/v1/config", change)[0] == 200
        for mode, line, cause in (("reboot", "sim: firmware rebooting", "reboot"),
                                  ("soft", "sim: firmware soft reset", "soft")):
            n = sim.output().count("smart-connect up")
            status, body = c.json("POST", "/api/v1/reset", {"mode": mode})
            assert status == 202 and body == {"mode": mode, "result": "restarting"}
            wait_until(lambda: sim.output().count("smart-connect up") == n + 1,  # noqa: B023
                       timeout=30)
            assert line in sim.output()
            status, cfg = c.json("GET", "/api/v1/config")
            assert cfg["MeterType"] == "Inepro-PRO380" and cfg["Modbus"]["StaleAfter"] == 17
            assert cfg["WiFi"]["Password"] == "********"
            assert c.json("GET", "/api/v1/status")[1]["device"]["reset_cause"] == cause
        assert c.json("POST", "/api/v1/reset", {"mode": "sideways"})[0] == 400
        n = sim.output().count("smart-connect up")
        assert c.json("POST", "/api/v1/reset", {"mode": "factory"})[0] == 202
        wait_until(lambda: sim.output().count("smart-connect up") == n + 1, timeout=30)
        status, cfg = c.json("GET", "/api/v1/config")
        assert cfg["MeterType"] == "PhoenixContact-EMPro" and cfg["WiFi"]["SSID"] == ""
        for name, data in ident.items():  # the identity is never touched
            assert open(os.path.join(str(flash), "identity", name), "rb").read() == data


def test_power_loss_while_writing_the_configuration_leaves_old_or_new(tmp_path):
    """The config writer itself, killed at random instants: hundreds of runs in seconds,
    most of them inside a write."""
    a = {"MeterType": "Eastron-SDM630", "Pad": "a" * 3000}
    b = {"MeterType": "Inepro-PRO380", "Pad": "b" * 3000}
    script = ("import sys; sys.path.insert(0, %r)\nfrom device import config\n"
              "a, b = %r, %r\nwhile True:\n    config.save('config.json', a)\n"
              "    config.save('config.json', b)\n" % (os.path.join(ROOT, "firmware", "lib"),
                                                        a, b))
    rnd = random.Random(1)
    path = tmp_path / "config.json"
    with open(path, "w") as f:
        json.dump(a, f)
    for _ in range(300):
        p = subprocess.Popen([MICROPYTHON, "-c", script], cwd=tmp_path)
        threading.Event().wait(rnd.uniform(0.02, 0.06))
        p.send_signal(signal.SIGKILL)
        p.wait()
        with open(path) as f:
            assert json.load(f) in (a, b)


def test_power_loss_during_a_loop_of_patches(tmp_path):
    """The whole firmware killed at random moments while PATCHes arrive (200 runs): the
    configuration always parses and is one that was sent, old or new."""
    flash = tmp_path / "flash"
    with Sim(flash, args=("--power-loss",)) as sim:
        c = Client(sim, flash)
        sent = [json.load(open(os.path.join(str(flash), "config.json")))["Modbus"]]
        stop = threading.Event()

        def patch_loop():
            k = 0
            while not stop.is_set():
                k += 1
                m = {"StaleAfter": 1 + k % 3600, "IdleTimeout": 60}
                sent.append(m)
                try:
                    c.json("PATCH", "/api/v1/config", {"Modbus": m})
                except (OSError, http.client.HTTPException):
                    pass  # the firmware died under it, maybe mid-answer

        rnd = random.Random(2)
        for run in range(200):
            up = sim.output().count("smart-connect up")
            t = threading.Thread(target=patch_loop)
            t.start()
            threading.Event().wait(rnd.uniform(0.0, 0.3))
            os.kill(sim.firmware_pid(), signal.SIGKILL)
            stop.set()
            t.join()
            stop.clear()
            wait_until(lambda: sim.output().count("smart-connect up") == up + 1,  # noqa: B023
                       timeout=30)
            with open(os.path.join(str(flash), "config.json")) as f:
                cfg = json.load(f)
            assert cfg["Modbus"] in sent, run
