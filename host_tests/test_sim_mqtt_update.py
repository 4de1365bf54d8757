"""The firmware update over MQTT (docs/update.md, "Over MQTT") on the real firmware
(tools/sim.py): the update command on a mutual-TLS session to a real mosquitto, the image
downloaded from an HTTPS server started here (Python's http.server, its certificate
signed by the test CA), the results read on command/result by a paho subscriber.

The sim's first image trusts a key made here (tools/sim.py --update-key) for the update
that goes through."""
import functools
import http.server
import json
import os
import ssl
import sys
import threading
import time

import pytest

from broker import CA, Broker
from simfw import Sim
from support import corpus
from tools import ROOT
from webclient import Client

sys.path.insert(0, os.path.join(ROOT, "tools"))
import release  # noqa: E402  (its signing: tools/signing.py)

SITE = "test-site"
STALL_S = 3  # how long /stall keeps the device waiting for the head
SLOW = (32 * 1024, 0.1)  # /slow/NAME sends NAME in pieces of this size, this far apart


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files from the server's folder; /stall/... answers 404 after STALL_S seconds;
    /slow/NAME is NAME sent slowly (its progress shows)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/stall/"):
            self.server.stalled.set()
            time.sleep(STALL_S)
            self.send_error(404)
            return
        if self.path.startswith("/slow/"):
            with open(os.path.join(self.directory, self.path[6:]), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for at in range(0, len(data), SLOW[0]):
                self.wfile.write(data[at:at + SLOW[0]])
                time.sleep(SLOW[1])
            return
        super().do_GET()

    def log_message(self, *args):
        pass


class HttpsServer:
    """An HTTPS file server on 127.0.0.1 in a thread, its certificate (for the names
    hosts) signed by ca."""

    def __init__(self, folder, ca, cn="localhost", hosts=("localhost", "127.0.0.1")):
        self.root = os.path.join(str(folder), "www")
        os.makedirs(self.root, exist_ok=True)
        certs = os.path.join(str(folder), "certs-" + cn)
        os.makedirs(certs, exist_ok=True)
        cert, key = ca.issue(certs, cn, server=True, hosts=hosts)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=self.root))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.httpd.stalled = threading.Event()
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path, host="localhost"):
        return "https://%s:%d%s" % (host, self.port, path)

    def put(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Device:
    """A sim with MQTT over mutual TLS to its own mosquitto, a subscriber on its topics
    and the HTTPS servers it downloads from: the trusted one, one whose certificate
    another CA signed, one whose certificate names another host."""

    def __init__(self, folder, serial, update_key=None):
        self.ca = CA(str(folder))
        self.broker = Broker(os.path.join(str(folder), "broker"), self.ca)
        self.flash = os.path.join(str(folder), "flash")
        self.ca.provision(self.flash, serial)
        self.web = HttpsServer(folder, self.ca)
        self.other = HttpsServer(os.path.join(str(folder), "other"),
                                 CA(str(folder), "Other CA"))
        self.wrong_name = HttpsServer(os.path.join(str(folder), "named"), self.ca,
                                      cn="elsewhere.test", hosts=("elsewhere.test",))
        self.sub = self.broker.subscribe()
        self.base = "devices/%s/smart-connect/%s/" % (SITE, serial)
        cfg = {"MQTT": {"Enabled": True, "Broker": self.broker.url(), "Site": SITE}}
        self.sim = Sim(self.flash, cfg, update_key=update_key)
        self.sim.status_when(lambda s: s["mqtt"]["connected"], timeout=30)
        self.sim.meter([corpus("dsmr/v5.txt")], interval=0.5)

    def send(self, command):
        """Sends the command; the index of the next message."""
        start = len(self.sub.messages)
        self.sub.publish(self.base + "command", json.dumps(command))
        return start

    def results(self, start, timeout=20):
        """The update's results from message start up to and including its last one."""
        end = time.monotonic() + timeout
        while True:
            got = [json.loads(m[2]) for m in self.sub.on("command/result", start)]
            if got and got[-1]["result"] != "downloading":
                return got
            if time.monotonic() > end:
                raise TimeoutError("no update result: %s" % got)
            time.sleep(0.05)

    def update(self, **command):
        return self.results(self.send(dict(command, command="update")))

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.sim.firmware_pid()))

    def close(self):
        out = ""
        try:
            out = self.sim.close()
        finally:
            self.sub.close()
            for s in (self.web, self.other, self.wrong_name):
                s.close()
            self.broker.close()
        return out


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """One device for the refusals: each leaves it as it was."""
    d = Device(tmp_path_factory.mktemp("mqttup"), "SCUPDATE")
    yield d
    out = d.close()
    assert "Traceback" not in out and "Error" not in out, out


def _refused(results, check, reason=""):
    """The single result of a refused update, its error naming check."""
    assert len(results) == 1, results
    r = results[0]
    assert r["command"] == "update" and r["result"] == "error", r
    assert r["error"] == "update:" + check, r
    assert r["reason"].startswith(check + ": ") and reason in r["reason"], r
    return r["reason"]


def test_a_plain_http_url_or_a_malformed_one_is_refused(device):
    _refused(device.update(url="http://localhost:%d/fw.bin" % device.web.port), "url",
             "only https:// is allowed, not http://")
    _refused(device.update(url="https://localhost/" + "a" * 600), "url", "at most 512")
    _refused(device.update(), "url", "missing")
    _refused(device.update(url="https://user:pw@localhost/fw.bin"), "url")
    _refused(device.update(url=device.web.url("/fw.bin"), size="big"), "size", "hint")
    _refused(device.update(url=device.web.url("/fw.bin"), sha256="00"), "sha256", "hint")
    assert device.web.httpd.requests == []


def test_a_server_the_device_does_not_trust_is_refused_and_leaves_no_socket(device):
    before = device.fds()
    reason = _refused(device.update(url=device.other.url("/fw.bin")), "tls")
    assert "not correctly signed" in reason, reason
    reason = _refused(device.update(url=device.wrong_name.url("/fw.bin")), "tls")
    assert "CN" in reason or "name" in reason.lower(), reason
    assert device.other.httpd.requests == [] and device.wrong_name.httpd.requests == []
    assert device.fds() <= before


def test_an_answer_other_than_200_is_refused(device):
    _refused(device.update(url=device.web.url("/missing.bin")), "http",
             "the server answered 404")
    assert device.web.httpd.requests[-1] == "/missing.bin"


def test_a_size_hint_that_differs_from_the_content_length_is_refused(device):
    device.web.put("small.bin", b"\xe9" * 1000)
    _refused(device.update(url=device.web.url("/small.bin"), size=1001), "size",
             "the server sends 1000 bytes, the hint says 1001")


def test_a_second_update_while_one_runs_is_busy_and_readings_go_on(device):
    device.web.httpd.stalled.clear()
    start = device.send({"command": "update", "url": device.web.url("/stall/fw.bin")})
    assert device.web.httpd.stalled.wait(10)
    began = time.monotonic()
    second = device.send({"command": "update", "url": device.web.url("/fw.bin")})
    busy = device.results(second, timeout=STALL_S)
    assert time.monotonic() - began < STALL_S  # at once, not after the first one
    _refused(busy, "busy", "an update is already running")
    readings = len(device.sub.on("data/instantaneous"))
    both = device.sub.wait("command/result", start, count=2, timeout=STALL_S + 10)
    first = [r for r in (json.loads(m[2]) for m in both) if r not in busy]
    _refused(first, "http", "the server answered 404")
    assert len(device.sub.on("data/instantaneous")) > readings  # published meanwhile
    assert device.sim.status()["mqtt"]["connected"]


def test_an_image_without_segments_is_refused(device):
    device.web.put("image.bin", b"\xe9" + bytes(5000))
    _refused(device.update(url=device.web.url("/image.bin")), "segments", "0 in the header")
    st = device.sim.status()
    assert st["mqtt"]["connected"] and st["mqtt"]["last_error"] is None


def _firmware(client):
    status, _, body = client.request("GET", "/api/v1/firmware")
    assert status == 200, body
    return json.loads(body)


def test_a_signed_release_is_downloaded_verified_and_booted(tmp_path):
    key = str(tmp_path / "update-key.pem")
    release.signing.make_key(key)
    pub = str(tmp_path / "update-key.pub.pem")
    release.signing.write_public_pem(key, pub)
    version = "99.0.0"
    d = Device(tmp_path, "SCUPGRADE", update_key=pub)
    try:
        rel = release.release("sim", version, key, os.path.join(d.web.root, "fw.bin"),
                              trust=pub)
        client = Client(d.sim, d.flash, ca=d.ca.cert_path)
        assert _firmware(client)["version"] != version
        start = d.send({"command": "update", "url": d.web.url("/slow/fw.bin"),
                        "version": version, "size": rel.size, "sha256": rel.sha256})
        results = d.results(start, timeout=60)
        progress, last = results[:-1], results[-1]
        assert last == {"command": "update", "result": "verified", "version": version}
        assert progress and all(p["result"] == "downloading" and p["total"] == rel.size
                                for p in progress)
        assert len(progress) <= 12
        statuses = [m[2] for m in d.sub.wait(d.base + "status", start, count=2, timeout=60)]
        assert statuses == [b"offline", b"online"]
        assert "sim: firmware rebooting" in d.sim.output()
        assert _firmware(client)["version"] == version
    finally:
        d.close()
