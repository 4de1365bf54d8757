"""The real firmware (tools/sim.py) publishing to a real mosquitto over mutual TLS, with a
CA made by the test: values per corpus telegram, authentication both ways, refused
brokers, broker restarts under Modbus load, last will, commands, clock fallback."""
import json
import os
import signal
import threading
import time

import pytest
from pymodbus.client import ModbusTcpClient

from broker import CA, PASSWORD, USER, Broker
from meter import reading
from mqtt import discovery
from mqtt.publisher import COUNTER_KEYS, INSTANT_KEYS
from simfw import Sim, metersim, wait_until
from support import corpus, corpus_names, parse_one

SITE = "test-site"


def base(serial):
    return "devices/%s/smart-connect/%s/" % (SITE, serial)


def mqtt_config(url, **kw):
    cfg = {"Enabled": True, "Broker": url, "Site": SITE}
    cfg.update(kw)
    return {"MQTT": cfg}


def expected(r, keys):
    """What the firmware must publish for reading r; ts None = the device clock."""
    return json.loads(reading.to_json(r, keys))


def check_values(payload, want):
    got = json.loads(payload)
    if want["ts"] is None:  # no meter clock: the device's, close to now
        assert abs(got["ts"] - time.time()) < 30, got
        want = dict(want, ts=got["ts"])
    assert got == want


@pytest.mark.parametrize("kind", ["dsmr", "tic"])
def test_every_corpus_telegram_arrives_on_its_topic_with_its_values(tmp_path, ca, broker,
                                                                     kind):
    serial = "SCT" + kind.upper()
    ca.provision(tmp_path / "flash", serial)
    sub = broker.subscribe()
    cfg = mqtt_config(broker.url(), HomeAssistant=True)
    with Sim(tmp_path / "flash", cfg, input="p1" if kind == "dsmr" else "tic") as sim:
        sim.status_when(lambda s: s["mqtt"]["connected"])
        status = sub.wait(base(serial) + "status")
        assert status[-1][2] == b"online" and status[-1][3] is False
        names = corpus_names(kind)
        for i, name in enumerate(names):
            r = parse_one(name, now=None)
            start = len(sub.messages)
            m = sim.meter(metersim.split(corpus(name)), interval=0, loop=False)
            msg = sub.wait(base(serial) + "data/instantaneous", start)[0]
            m.close()
            assert msg[1] == base(serial) + "data/instantaneous"
            check_values(msg[2], expected(r, INSTANT_KEYS))
            if i == 0:  # counters: with the first reading, then at most once a minute
                counters = sub.wait(base(serial) + "data/counters", start)[0]
                check_values(counters[2], expected(r, COUNTER_KEYS))
                first = r
        # Home Assistant discovery: the first reading's sensors, retained.
        want = {k for k, *_ in discovery.SENSORS if first[k] is not None}
        configs = sub.wait("/config", count=len(want))
        assert {m[1].split("/")[3] for m in configs} == want
        power = json.loads(next(m[2] for m in configs
                                if m[1] == "homeassistant/sensor/%s/power_w/config" % serial))
        assert power["device_class"] == "power" and power["unit_of_measurement"] == "W"
        assert power["state_class"] == "measurement"
        assert power["state_topic"] == base(serial) + "data/instantaneous"
        assert power["availability_topic"] == base(serial) + "status"
        st = sim.status()["mqtt"]
        assert st["connects"] == 1 and st["failures"] == 0 and st["last_error"] is None
    sub.close()


def test_username_and_password_instead_of_the_device_certificate(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCPASS")
    sub = broker.subscribe()
    cfg = mqtt_config(broker.url(password=True), Username=USER, Password=PASSWORD)
    with Sim(tmp_path / "flash", cfg) as sim:
        sim.meter([corpus("dsmr/v5.txt")], interval=0.5)
        msg = sub.wait(base("SCPASS") + "data/instantaneous")[0]
        check_values(msg[2], expected(parse_one("dsmr/v5.txt"), INSTANT_KEYS))
    bad = mqtt_config(broker.url(password=True), Username=USER, Password="wrong")
    with Sim(tmp_path / "flash", bad) as sim:
        st = sim.status_when(lambda s: s["mqtt"]["failures"] >= 1)["mqtt"]
        assert st["last_error"].startswith("broker refused: ") and not st["connected"]
    sub.close()


@pytest.mark.parametrize("case", ["other CA", "expired"])
def test_an_untrusted_broker_certificate_is_refused_and_retried(tmp_path, ca, case):
    other = CA(str(tmp_path), "Other CA") if case == "other CA" else None
    b = Broker(tmp_path / "broker", ca, server_ca=other, expired=case == "expired")
    try:
        ca.provision(tmp_path / "flash", "SCREFUSE")
        sub = b.subscribe()
        with Sim(tmp_path / "flash", mqtt_config(b.url())) as sim:
            sim.meter([corpus("dsmr/v5.txt")], interval=0.5)
            sim.status_when(lambda s: s["mqtt"]["failures"] >= 1, timeout=20)
            fds = len(os.listdir("/proc/%d/fd" % sim.firmware_pid()))
            st = sim.status_when(lambda s: s["mqtt"]["failures"] >= 3, timeout=20)["mqtt"]
            # A refused handshake leaves no socket behind (the device has few).
            assert len(os.listdir("/proc/%d/fd" % sim.firmware_pid())) <= fds
            assert not st["connected"] and st["connects"] == 0 and st["sent"] == 0
            assert st["state"] in ("retrying", "connecting")
            err = st["last_error"].lower()
            assert ("expired" in err) if case == "expired" else ("not correctly signed" in err)
            assert sub.on(base("SCREFUSE")) == []
        sub.close()
    finally:
        b.close()


class ModbusPoller(threading.Thread):
    """Polls like a charger (every 100 ms) and records when each answer came."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.client = ModbusTcpClient("127.0.0.1", port=port)
        assert self.client.connect()
        self.times = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            rr = self.client.read_holding_registers(0x8016, count=2, device_id=1)
            if not rr.isError():
                self.times.append(time.monotonic())
            time.sleep(0.1)

    def max_gap(self):
        return max(b - a for a, b in zip(self.times, self.times[1:]))


def test_broker_restart_mid_stream_resumes_while_modbus_keeps_answering(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCRESTART")
    with Sim(tmp_path / "flash", mqtt_config(broker.url())) as sim:
        sim.meter([corpus("dsmr/v5.txt")], interval=0.2)
        sub = broker.subscribe()
        sub.wait(base("SCRESTART") + "data/instantaneous", count=3)
        poller = ModbusPoller(sim.modbus_port)
        poller.start()
        time.sleep(1)
        broker.kill()
        sim.status_when(lambda s: s["mqtt"]["state"] == "retrying")
        time.sleep(3)
        broker.start()
        restarted = time.monotonic()
        sub2 = broker.subscribe()
        msg = sub2.wait(base("SCRESTART") + "data/instantaneous", timeout=70)[0]
        assert msg[0] - restarted <= 60  # within the backoff cap
        time.sleep(1)
        poller.stop.set()
        poller.join()
        assert len(poller.times) > 40 and poller.max_gap() < 2
        st = sim.status()["mqtt"]
        assert st["connected"] and st["connects"] == 2 and st["failures"] >= 2
        sub.close()
        sub2.close()


def test_killing_the_firmware_makes_the_broker_publish_offline(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCKILL")
    sub = broker.subscribe(base("SCKILL") + "status")
    with Sim(tmp_path / "flash", mqtt_config(broker.url())) as sim:
        sub.wait("status")
        os.kill(sim.firmware_pid(), signal.SIGKILL)
        msgs = sub.wait("status", count=2)
        assert [m[2] for m in msgs] == [b"online", b"offline"]
        wait_until(lambda: not sim.alive())
    later = broker.subscribe(base("SCKILL") + "status")  # retained for newcomers
    assert later.wait("status")[0][2:] == (b"offline", True)
    sub.close()
    later.close()


def test_remote_commands_reboot_and_unknown(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCCMD")
    sub = broker.subscribe()
    b = base("SCCMD")
    with Sim(tmp_path / "flash", mqtt_config(broker.url())) as sim:
        sim.status_when(lambda s: s["mqtt"]["connected"])
        sub.publish(b + "command", "selfdestruct")
        res = json.loads(sub.wait(b + "command/result")[0][2])
        assert res == {"command": "selfdestruct",
                       "result": "error: unknown command (known: reboot, update)"}
        start = len(sub.messages)
        sub.publish(b + "command", json.dumps({"command": "reboot"}))
        res = json.loads(sub.wait(b + "command/result", start)[0][2])
        assert res == {"command": "reboot", "result": "rebooting"}
        statuses = [m[2] for m in sub.wait(b + "status", start, count=2, timeout=30)]
        assert statuses == [b"offline", b"online"]
        assert "sim: firmware rebooting" in sim.output()
        assert sim.status_when(lambda s: s["mqtt"]["connected"])["mqtt"]["connects"] == 1
    sub.close()


def test_without_network_time_the_meter_clock_stands_in(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCCLOCK")
    sub = broker.subscribe()
    with Sim(tmp_path / "flash", mqtt_config(broker.url()), args=["--no-ntp"]) as sim:
        st = sim.status()
        assert st["mqtt"]["state"] == "waiting for clock" and st["device"]["time"] is None
        sim.meter([corpus("dsmr/v5.txt")], interval=0.5)
        st = sim.status_when(lambda s: s["mqtt"]["connected"])
        assert st["mqtt"]["clock"] == "meter"
        assert abs(st["device"]["time"] - parse_one("dsmr/v5.txt")["ts"]) < 30
        sub.wait(base("SCCLOCK") + "data/instantaneous")
    sub.close()


def test_a_plain_mqtt_broker_url_is_refused(tmp_path):
    cfg = {"MQTT": {"Enabled": True, "Broker": "mqtt://localhost:1883"}}
    with Sim(tmp_path, cfg) as sim:
        st = sim.status()
        assert st["config_errors"] == [
            "MQTT.Broker: only mqtts:// (MQTT over TLS) is allowed, not mqtt://"]
        assert st["mqtt"]["state"] == "error"
        assert st["mqtt"]["last_error"] == "MQTT.Broker: not set"


def test_a_stalled_broker_stalls_neither_modbus_nor_the_meter(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCSTALL")
    sub = broker.subscribe()
    with Sim(tmp_path / "flash", mqtt_config(broker.url())) as sim:
        sim.meter([corpus("dsmr/v5.txt")], interval=0.1)
        sim.status_when(lambda s: s["mqtt"]["connected"])
        poller = ModbusPoller(sim.modbus_port)
        poller.start()
        os.kill(broker.proc.pid, signal.SIGSTOP)
        try:
            before = sim.status()["meter"]["valid"]
            time.sleep(5)
            assert sim.status()["meter"]["valid"] >= before + 30  # 10 telegrams a second
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        start = len(sub.messages)
        sub.wait(base("SCSTALL") + "data/instantaneous", start, count=5)
        poller.stop.set()
        poller.join()
        assert poller.max_gap() < 2
    sub.close()
