"""MQTT benchmarks of issue 4, every figure measured in this run against a real mosquitto
with mutual TLS (a CA made for the run).

- Telegram to MQTT message: metersim's last byte of a telegram -> that reading's message
  received by a subscriber of the same broker. The firmware on the unix port vs a CPython
  bridge doing the same job (dsmr_parser + paho-mqtt, the stack of the usual dsmr-to-MQTT
  bridges) in the same run (goal: firmware p99 <= 20 ms).
- Memory held by one TLS MQTT session on the unix port, in a unix-port process like the
  firmware's: MicroPython heap (gc.mem_alloc() connected minus before: TLS context with
  the device certificate, streams, MQTT session) and, apart, what mbedtls allocates with
  the C allocator (its session and record buffers; on the ESP32 they come from the IDF
  heap, not the MicroPython heap either), seen as the process's resident memory growth.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "host_tests", "core")]

from broker import CA, Broker  # noqa: E402
from latency import telegram_latencies  # noqa: E402
from simfw import Sim, free_ports, metersim  # noqa: E402
from tools import MICROPYTHON  # noqa: E402

COUNT = 300
INTERVAL = 0.05
TOPIC_SUFFIX = "data/instantaneous"


def arrivals_of(sub, start):
    out = {}
    for t, topic, payload, _ in sub.messages[start:]:
        if topic.endswith(TOPIC_SUFFIX):
            out.setdefault(json.loads(payload)["power_w"], t)
    return out


def firmware_latency(tmp, ca, broker, frames):
    ca.provision(os.path.join(tmp, "flash"), "BENCH1")
    cfg = {"MQTT": {"Enabled": True, "Broker": broker.url(), "Site": "bench"}}
    sub = broker.subscribe("devices/bench/#")
    with Sim(os.path.join(tmp, "flash"), cfg, status_every=0) as sim:
        sub.wait("status")
        start = len(sub.messages)
        m = sim.meter(frames, interval=INTERVAL, count=len(frames), loop=False)
        m.wait(len(frames), timeout=120)
        time.sleep(0.5)
    sub.close()
    return telegram_latencies(m.done, frames, arrivals_of(sub, start))


class Bridge(threading.Thread):
    """The peer: reads the meter socket, parses each telegram with dsmr_parser, publishes
    its values as JSON with paho-mqtt over mutual TLS."""

    def __init__(self, broker, cert, key):
        super().__init__(daemon=True)
        from dsmr_parser import telegram_specifications
        from dsmr_parser.parsers import TelegramParser
        self.parser = TelegramParser(telegram_specifications.V5)
        self.port = free_ports(1)[0]
        self.server = socket.create_server(("127.0.0.1", self.port))
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bridge")
        c.tls_set(ca_certs=broker.ca.cert_path, certfile=cert, keyfile=key)
        c.connect("localhost", broker.mtls_port)
        c.loop_start()
        self.client = c

    def run(self):
        conn, _ = self.server.accept()
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"!" in buf and b"\r\n" in buf[buf.index(b"!"):]:
                end = buf.index(b"\r\n", buf.index(b"!")) + 2
                telegram, buf = buf[:end], buf[end:]
                t = self.parser.parse(telegram.decode("ascii"))
                power = (t.CURRENT_ELECTRICITY_USAGE.value
                         - t.CURRENT_ELECTRICITY_DELIVERY.value) * 1000
                self.client.publish("bridge/" + TOPIC_SUFFIX,
                                    json.dumps({"power_w": int(power)}))

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
        self.server.close()


def bridge_latency(tmp, ca, broker, frames):
    cert, key = ca.issue(tmp, "bridge")
    sub = broker.subscribe("bridge/#")
    bridge = Bridge(broker, cert, key)
    bridge.start()
    start = len(sub.messages)
    m = metersim.MeterSim(bridge.port, frames, interval=INTERVAL, count=len(frames),
                          loop=False).start()
    m.wait(len(frames), timeout=120)
    time.sleep(0.5)
    m.close()
    bridge.close()
    sub.close()
    return telegram_latencies(m.done, frames, arrivals_of(sub, start))


SESSION_HEAP = """
import asyncio, gc, sys
sys.path[:0] = [%(lib)r, %(board)r]
from net import tls
from device.identity import Identity
from mqtt.session import Session

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

async def session(ident, client_id):
    ctx = tls.context(ident)
    r, w, raw = await tls.open_connection("127.0.0.1", %(port)d, "localhost", ctx, 10)
    s = Session(r, w)
    await s.connect(client_id)
    reader = asyncio.create_task(s.run())
    await s.publish("bench/heap", "x", 1)
    return s, w, reader

async def main():
    ident = Identity(%(ident)r, "x")
    # A first session pages in the TLS code and stays open, so the resident growth of the
    # second one is its own allocations.
    sessions = [await session(ident, "warm-up")]
    gc.collect()
    before = gc.mem_alloc()
    rss = resident()
    sessions.append(await session(ident, ident.serial))
    gc.collect()
    held = gc.mem_alloc() - before
    native = resident() - rss
    for s, w, reader in sessions:
        reader.cancel()
        await s.disconnect()
        w.close()
        await w.wait_closed()
    print(held, native)

asyncio.run(main())
"""


def session_heap(tmp, ca, broker):
    ca.provision(os.path.join(tmp, "heapflash"), "BENCH2")
    script = SESSION_HEAP % {"lib": os.path.join(ROOT, "firmware", "lib"),
                             "board": os.path.join(ROOT, "boards", "sim"),
                             "ident": os.path.join(tmp, "heapflash", "identity"),
                             "port": broker.mtls_port}
    out = subprocess.run([MICROPYTHON, "-X", "heapsize=160k", "-c", script],
                         capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise RuntimeError(out.stdout + out.stderr)
    return [int(x) for x in out.stdout.split()[-2:]]


def main():
    tmp = tempfile.mkdtemp(prefix="sc-bench-mqtt-")
    ca = CA(tmp)
    broker = Broker(os.path.join(tmp, "broker"), ca)
    try:
        frames = metersim.synthetic(COUNT, seed=4)
        n, p50, p99 = firmware_latency(tmp, ca, broker, frames)
        bn, bp50, bp99 = bridge_latency(tmp, ca, broker, frames)
        print("Telegram to MQTT message (%d telegrams, %d ms apart, mosquitto, mutual TLS):"
              % (COUNT, INTERVAL * 1000))
        print("  firmware on the unix port:           %3d received, p50 %.2f ms, p99 %.2f ms"
              % (n, p50, p99))
        print("  dsmr_parser + paho-mqtt on CPython:  %3d received, p50 %.2f ms, p99 %.2f ms"
              % (bn, bp50, bp99))
        print("  p99 ratio (bridge / firmware): %.2fx; goal p99 <= 20 ms: %s"
              % (bp99 / p99, "met" if p99 <= 20 else "NOT MET"))
        heap, native = session_heap(tmp, ca, broker)
        print("One TLS MQTT session on the unix port (mutual TLS, EC P-256): %d bytes of "
              "MicroPython heap, + %d KB resident outside it (mbedtls)" % (heap, native // 1024))
    finally:
        broker.close()


if __name__ == "__main__":
    main()
