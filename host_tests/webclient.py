"""An HTTPS client for the sim's API that checks the device certificate as a browser on the
LAN would: against the CA tools/sim.py provisioned the flash with, under the name
smart-connect.local (the sim listens on 127.0.0.1)."""
import base64
import http.client
import json
import os
import socket
import ssl

NAME = "smart-connect.local"


def password(flash):
    with open(os.path.join(str(flash), "identity", "identity.json")) as f:
        return json.load(f)["api_password"]


def basic(pw, user="user"):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


class Client:
    def __init__(self, sim, flash, ca=None):
        self.port = sim.https_port
        self.http_port = sim.http_port
        self.ctx = ssl.create_default_context(cafile=ca or os.path.join(str(flash), "ca",
                                                                         "ca.crt"))
        self.auth = basic(password(flash))

    def request(self, method, path, body=None, auth=True, headers=None, name=NAME):
        """(status, headers dict with lower-case names, body bytes)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        conn = http.client.HTTPSConnection(name, self.port, timeout=15)
        conn.sock = self.ctx.wrap_socket(sock, server_hostname=name)
        h = {"Host": "%s:%d" % (NAME, self.port)}
        if auth is True:
            h["Authorization"] = self.auth
        elif auth:
            h["Authorization"] = auth
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def connection(self):
        """A connection kept open for several requests (keep-alive), as API clients and
        browsers keep them: one TLS handshake for many requests."""
        conn = http.client.HTTPSConnection(NAME, self.port, timeout=15)
        conn.sock = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port),
                                                                  timeout=15),
                                         server_hostname=NAME)
        return conn

    def json(self, method, path, body=None, **kw):
        status, headers, data = self.request(method, path, body, **kw)
        return status, json.loads(data) if data else None

    def plain(self, method, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()
