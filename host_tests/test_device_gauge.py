"""The device gauge: the firmware frozen into the 32-bit unix build (make frozen32,
tools/sim.py --frozen32) holds the whole device workload in the heap a no-PSRAM ESP32
can give it: 1000 telegrams, 4 Modbus clients polling and MQTT over mutual TLS to a real
mosquitto, in 72 KB of the device's 96 KB (the rest is the UI's and mDNS's), with no
growth of the live heap over the last 500 telegrams (docs/memory.md)."""
import threading

from test_sim_clients import poll_consistent
from test_sim_mqtt import base, mqtt_config

from simfw import Sim, metersim

HEAP = "72k"
TELEGRAMS = 1000


def test_1000_telegrams_4_modbus_clients_and_mqtt_over_tls_in_72k(tmp_path, ca, broker):
    ca.provision(tmp_path / "flash", "SCGAUGE")
    sub = broker.subscribe()
    with Sim(tmp_path / "flash", mqtt_config(broker.url()), heap=HEAP,
             args=("--frozen32",)) as sim:
        sim.status_when(lambda s: s["mqtt"]["connected"], timeout=30)
        m = sim.meter(metersim.synthetic(TELEGRAMS), interval=0.02, count=TELEGRAMS,
                      loop=False)
        results = []
        threads = [threading.Thread(target=poll_consistent,
                                    args=(sim.modbus_port, 22, results, 20)) for _ in range(4)]
        for t in threads:
            t.start()
        half = sim.status_when(lambda st: st["meter"]["valid"] >= TELEGRAMS // 2, timeout=60)
        m.wait(TELEGRAMS, timeout=120)
        end = sim.status_when(lambda st: st["meter"]["valid"] == TELEGRAMS)
        for t in threads:
            t.join()
        assert sim.alive()
        assert len(results) == 4 and all(bad == [] for bad, _ in results)
        assert end["mqtt"]["connected"] and end["mqtt"]["failures"] == 0
        assert end["mqtt"]["sent"] + end["mqtt"]["skipped"] >= TELEGRAMS
        data = sub.wait(base("SCGAUGE") + "data/instantaneous")
        assert len(data) >= TELEGRAMS // 2
        print("heap live at %d telegrams: %d, at %d: %d, peak %d" % (
            half["meter"]["valid"], half["heap"]["live"], TELEGRAMS, end["heap"]["live"],
            end["heap"]["peak_live"]))
        assert end["heap"]["live"] <= half["heap"]["live"]
    assert "MemoryError" not in sim.output()
