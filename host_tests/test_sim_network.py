"""The firmware's own network lookups, as the device makes them: names resolved by our
non-blocking DNS client (a DNS server that does not answer stalls nothing), SNTP from a
server, and the socket budget under attack: with every client slot taken and hostile
connections pouring in, extra clients are refused cleanly while MQTT and time sync still
get their sockets (the sim gives the firmware only the device's number of sockets)."""
import random
import threading
import time

import pytest
from pymodbus.client import ModbusTcpClient
from test_sim_clients import hostile
from test_sim_mqtt import base, mqtt_config

from netsrv import DnsServer, NtpServer
from simfw import Sim, metersim, wait_until


@pytest.fixture
def ntp():
    s = NtpServer()
    yield s
    s.close()


def _poll(port, seconds=None, hz=20, stop=None):
    """(answers, worst latency in s) of one Modbus client reading at hz on one connection
    for some seconds or until stop."""
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    assert c.connect()
    worst, n = 0.0, 0
    end = time.monotonic() + (seconds or 3600)
    while time.monotonic() < end and not (stop and stop.is_set()):
        t = time.monotonic()
        assert not c.read_holding_registers(0x8016, count=2).isError()
        worst = max(worst, time.monotonic() - t)
        n += 1
        time.sleep(1 / hz)
    c.close()
    return n, worst


def test_a_dns_server_that_never_answers_stalls_neither_modbus_nor_the_meter(tmp_path, ca,
                                                                             broker):
    """lwIP's getaddrinfo would block the whole loop for ~7 s per server here."""
    dns = DnsServer(silent=True)
    ca.provision(tmp_path / "flash", "SCDNS1")
    try:
        with Sim(tmp_path / "flash", mqtt_config(broker.url(host="broker.test")),
                 args=("--dns", dns.addr())) as sim:
            sim.meter(metersim.synthetic(100), interval=0.2)
            answers, worst = _poll(sim.modbus_port, 8)
            st = sim.status_when(lambda s: s["mqtt"]["state"] == "retrying")
            assert dns.queries >= 2  # the resolver asked, and asked again
            assert worst < 0.5 and answers > 100
            assert st["meter"]["fresh"] and st["meter"]["valid"] >= 30
            assert st["mqtt"]["last_error"] == "cannot resolve broker.test"
    finally:
        dns.close()


def test_the_broker_by_name_and_time_from_sntp(tmp_path, ca, broker, ntp):
    dns = DnsServer({"broker.test": "127.0.0.1"})
    ca.provision(tmp_path / "flash", "SCDNS2")
    sub = broker.subscribe()
    try:
        with Sim(tmp_path / "flash", mqtt_config(broker.url(host="broker.test")),
                 args=("--dns", dns.addr(), "--ntp", ntp.addr())) as sim:
            sim.meter(metersim.synthetic(10), interval=0.5)
            st = sim.status_when(lambda s: s["mqtt"]["connected"])
            assert st["mqtt"]["clock"] == "ntp" and ntp.queries == 1
            assert abs(st["device"]["time"] - time.time()) < 5
            sub.wait(base("SCDNS2") + "data/instantaneous")
    finally:
        dns.close()


def test_an_unsynchronised_time_server_is_not_believed(tmp_path):
    bad = NtpServer(unsynced=True)
    try:
        with Sim(tmp_path, args=("--ntp", bad.addr())) as sim:
            sim.meter(metersim.synthetic(10), interval=0.5)
            st = sim.status_when(lambda s: s["device"]["time"] is not None)
            # The meter's clock stands in (its telegrams say 2023), not the server's.
            assert bad.queries >= 1 and abs(st["device"]["time"] - 1700000000) < 3700
    finally:
        bad.close()


def _flood(ports, stop):
    """Hostile connections to ports, from one thread each, until stop."""
    def run(port, rnd):
        while not stop.is_set():
            hostile(port, rnd, 10)

    threads = [threading.Thread(target=run, args=(p, random.Random(k)))
               for k, p in enumerate(ports)]
    for t in threads:
        t.start()
    return threads


@pytest.mark.parametrize("build", ["unix", "frozen32"])
def test_full_client_slots_and_a_flood_leave_mqtt_and_time_sync_their_sockets(tmp_path, ca,
                                                                              broker, ntp,
                                                                              build):
    """Also on the device gauge, in the 96 KB Python heap of the device (docs/memory.md)."""
    ca.provision(tmp_path / "flash", "SCBUDGET")
    sub = broker.subscribe()
    args = ("--ntp", ntp.addr()) + (("--frozen32",) if build == "frozen32" else ())
    with Sim(tmp_path / "flash", mqtt_config(broker.url()), args=args,
             heap="96k" if build == "frozen32" else None) as sim:
        sim.meter(metersim.synthetic(200), interval=0.1)
        sim.status_when(lambda s: s["mqtt"]["connected"])
        stop_flood, stop_clients = threading.Event(), threading.Event()
        results = []

        def hold_a_slot():
            results.append(_poll(sim.modbus_port, hz=5, stop=stop_clients))

        holders = [threading.Thread(target=hold_a_slot) for _ in range(6)]
        for t in holders:
            t.start()
        wait_until(lambda: sim.status()["modbus"]["clients"] == 6)
        flood = _flood([sim.modbus_port] * 6 + [sim.raw_port] * 2, stop_flood)
        try:
            # The broker restarts in the middle of it: MQTT needs a new socket now.
            broker.kill()
            broker.start()
            st = sim.status_when(lambda s: s["mqtt"]["connects"] == 2, timeout=30)
            assert st["modbus"]["refused"] > 0 and st["raw"]["refused"] > 0
            stop_clients.set()
            for t in holders:
                t.join()
            assert len(results) == 6 and all(n >= 5 and worst < 1 for n, worst in results)
            # A reboot in the middle of it: time sync and MQTT start over from nothing.
            sub.publish(base("SCBUDGET") + "command", "reboot")
            wait_until(lambda: "sim: firmware rebooting" in sim.output(), timeout=15)
            st = sim.status_when(lambda s: s["mqtt"]["connected"], timeout=30)
            assert st["mqtt"]["clock"] == "ntp" and ntp.queries >= 2
        finally:
            stop_clients.set()
            stop_flood.set()
            for t in flood + holders:
                t.join()
