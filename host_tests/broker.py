"""A real mosquitto for the MQTT tests, with a CA made by the test: one TLS listener that
requires client certificates (the certificate's CN is the username) and one that takes
username and password. Subscribers are paho-mqtt clients with their own certificate."""
import datetime
import getpass
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from cryptography.x509.oid import ExtendedKeyUsageOID

from simfw import free_ports
from tools import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))

import provision  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
USER, PASSWORD = "meter-user", "s3cret-pass"


class CA:
    def __init__(self, folder, name="Test CA"):
        self.key, self.cert = provision.new_ca(name)
        self.cert_path = os.path.join(folder, name.replace(" ", "_") + ".crt")
        self.key_path = self.cert_path[:-4] + ".key"
        with open(self.cert_path, "wb") as f:
            f.write(provision.pem_cert(self.cert))
        with open(self.key_path, "wb") as f:
            f.write(provision.pem_key(self.key))

    def issue(self, folder, cn, server=False, hosts=(), not_before=None, days=30):
        """(cert path, key path) of a new certificate."""
        key = provision.new_key()
        cert = provision.make_cert(
            key, cn, self.key, self.cert, hosts=hosts, not_before=not_before, days=days,
            usage=ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH)
        paths = (os.path.join(folder, cn + ".crt"), os.path.join(folder, cn + ".key"))
        for path, data in zip(paths, (provision.pem_cert(cert), provision.pem_key(key))):
            with open(path, "wb") as f:
                f.write(data)
        return paths

    def provision(self, flash, serial):
        """The device identity signed by this CA (tools/provision.py with --ca-cert)."""
        return provision.provision(str(flash), serial, (self.key, self.cert))


class Broker:
    def __init__(self, folder, ca, server_ca=None, expired=False):
        """ca: trusted for clients. server_ca: signs the broker's own certificate (default
        ca; another one makes a broker the device must refuse). expired: a broker
        certificate that ran out yesterday."""
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.ca = ca
        start = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=31)
                 if expired else None)
        # broker.test: the name the DNS tests give it (host_tests/netsrv.py).
        cert, key = (server_ca or ca).issue(self.folder, "localhost", server=True,
                                            hosts=("localhost", "broker.test", "127.0.0.1"),
                                            not_before=start)
        self.server_ca = server_ca or ca
        self.expired = expired
        self.sub_cert, self.sub_key = ca.issue(self.folder, "test-subscriber")
        passwd = os.path.join(self.folder, "passwd")
        subprocess.run(["mosquitto_passwd", "-b", "-c", passwd, USER, PASSWORD], check=True,
                       capture_output=True)
        self.mtls_port, self.password_port = free_ports(2)
        self.conf = os.path.join(self.folder, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join((
                "per_listener_settings true",
                "persistence false",
                # As root it would drop to user mosquitto, who cannot read the test's folder.
                "user %s" % getpass.getuser(),
                "log_dest stdout",
                "log_type all",
                "listener %d 127.0.0.1" % self.mtls_port,
                "cafile " + ca.cert_path, "certfile " + cert, "keyfile " + key,
                "require_certificate true", "use_identity_as_username true",
                "listener %d 127.0.0.1" % self.password_port,
                "cafile " + ca.cert_path, "certfile " + cert, "keyfile " + key,
                "allow_anonymous false", "password_file " + passwd, "")))
        self.proc = None
        self.log = open(os.path.join(self.folder, "mosquitto.log"), "ab")
        self.start()

    def url(self, password=False, host="localhost"):
        return "mqtts://%s:%d" % (host, self.password_port if password else self.mtls_port)

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.mtls_port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError("mosquitto did not start: " + self.output()) from None
                time.sleep(0.05)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self):
        with open(os.path.join(self.folder, "mosquitto.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def subscribe(self, topic="#"):
        return Subscriber(self, topic)

    def close(self):
        self.kill()
        self.log.close()


class Subscriber:
    """A paho client on the mutual-TLS listener, collecting (time, topic, payload, retain)."""

    def __init__(self, broker, topic):
        self.messages = []
        self._lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sub-%d" % id(self))
        # The observer of an expired broker must still see that nothing gets published.
        c.tls_set(ca_certs=broker.server_ca.cert_path, certfile=broker.sub_cert,
                  keyfile=broker.sub_key,
                  cert_reqs=ssl.CERT_NONE if broker.expired else ssl.CERT_REQUIRED)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
        c.on_message = self._on_message
        self._subscribed = threading.Event()
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.connect("localhost", broker.mtls_port)
        c.loop_start()
        self.client = c
        if not self._subscribed.wait(10):
            raise RuntimeError("subscriber did not subscribe")

    def _on_message(self, client, userdata, m):
        with self._lock:
            self.messages.append((time.monotonic(), m.topic, m.payload, m.retain))

    def on(self, suffix, start=0):
        """Messages from index start whose topic ends with suffix."""
        with self._lock:
            return [m for m in self.messages[start:] if m[1].endswith(suffix)]

    def wait(self, suffix, start=0, timeout=15, count=1):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.on(suffix, start)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise TimeoutError("no %r message; got %s" % (suffix, [m[1] for m in self.messages]))

    def publish(self, topic, payload, qos=1, retain=False):
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
