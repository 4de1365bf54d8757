"""The soak's load (host_tests/soak.py runs it): the clients a house with integrations puts
on the device at once, each a thread that runs until halted and records every failure by
kind. Real clients only: pymodbus, http.client over TLS verifying the device certificate
under its name, raw sockets, python-zeroconf."""
import collections
import http.client
import json
import re
import socket
import struct
import threading
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from webclient import NAME

STALL_S = 10  # events and telegrams come every second: this long without one is a stall
TIMEOUT_S = 20  # one answer; generous for a loaded 2-core machine, short beside a soak
# A DSMR telegram's end line and its timestamp (unique per metersim.synthetic telegram).
TELEGRAM_END = re.compile(rb"![0-9A-F]{4}\r\n")
TELEGRAM_TS = re.compile(rb"0-0:1\.0\.0\((\d{12}[SW])\)")
# Total power, then L1..L3, as metersim.synthetic writes them.
POWERS = re.compile(rb"1-0:(1|21|41|61)\.7\.0\((\d+\.\d+)\*kW\)")


class Failures:
    """Every failure by kind with its first examples. The first of each kind is printed at
    once, so a long soak shows trouble as it happens and not only at its end."""

    EXAMPLES = 3

    def __init__(self, out, start):
        self.counts = collections.Counter()
        self.examples = collections.defaultdict(list)
        self._out = out
        self.start = start
        self._lock = threading.Lock()

    def add(self, kind, detail=""):
        t = time.monotonic() - self.start
        with self._lock:
            self.counts[kind] += 1
            first = self.counts[kind] == 1
            if len(self.examples[kind]) < self.EXAMPLES:
                self.examples[kind].append((t, str(detail)[:300]))
        if first:
            self._out("FAIL at %4.0f s: %s %s" % (t, kind, str(detail)[:300]))


class Load(threading.Thread):
    """A client thread: loops until halt is set; ok counts its good answers."""

    def __init__(self, name, failures, halt):
        super().__init__(name=name, daemon=True)
        self.failures = failures
        self.halt = halt
        self.ok = 0

    def every(self, period):
        """Yields every period seconds until halted; a slow turn delays the next one
        instead of causing a burst (a client waits for its answer)."""
        due = time.monotonic()
        while not self.halt.is_set():
            yield
            due = max(due + period, time.monotonic())
            self.halt.wait(max(0.0, due - time.monotonic()))


def f32_cdab(regs):
    return struct.unpack(">f", struct.pack(">HH", regs[1], regs[0]))[0]


def powers(frames):
    """(total, L1, L2, L3) in W of each telegram: what the default (EMPro) map serves."""
    out = set()
    for f in frames:
        v = dict(POWERS.findall(f))
        out.add(tuple(round(float(v[k]) * 1000) for k in (b"1", b"21", b"41", b"61")))
    return out


class Modbus(Load):
    """A charger or energy manager polling total and phase powers in one request
    (host_tests/test_sim_clients.poll_consistent): an answer must be consistent (total =
    sum of the phases) and be one the meter sent, not merely arrive."""

    def __init__(self, name, failures, halt, port, expected, hz=5):
        super().__init__(name, failures, halt)
        self.port, self.expected, self.hz = port, expected, hz

    def run(self):
        client = None
        for _ in self.every(1 / self.hz):
            try:
                if client is None:
                    client = ModbusTcpClient("127.0.0.1", port=self.port, retries=0,
                                             timeout=TIMEOUT_S)
                    if not client.connect():
                        raise ConnectionError("connect failed")
                rr = client.read_holding_registers(0x8016, count=14)
            except (ModbusException, OSError) as e:
                self.failures.add("modbus no answer", "%s: %s" % (type(e).__name__, e))
                client.close()
                client = None
                continue
            if rr.isError():
                self.failures.add("modbus exception", rr)
                continue
            regs = rr.registers
            total, phases = f32_cdab(regs[0:2]), [f32_cdab(regs[i:i + 2]) for i in (8, 10, 12)]
            if total != sum(phases) or (round(total), *map(round, phases)) not in self.expected:
                self.failures.add("modbus wrong value", (total, phases))
            else:
                self.ok += 1
        if client is not None:
            client.close()


class Https(http.client.HTTPSConnection):
    """A kept-alive HTTPS connection to the device under its name, verifying its
    certificate; http.client opens a new one by itself after the device closed it."""

    def __init__(self, web, address="127.0.0.1"):
        super().__init__(NAME, web.port, timeout=TIMEOUT_S, context=web.ctx)
        self.address = address
        self.opened = 0

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=NAME)
        self.opened += 1

    def get(self, path, headers):
        """(status, headers, body) of one GET on this connection."""
        self.request("GET", path, headers=headers)
        r = self.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


class Api(Load):
    """An integration reading the API over one kept-alive connection with Basic auth (a
    Home Assistant REST sensor): anything but 200 with valid JSON is a failure, recorded
    by status and route with the error body the device sent."""

    def __init__(self, name, failures, halt, web, period, routes=("/api/v1/status",)):
        super().__init__(name, failures, halt)
        self.web, self.period, self.routes = web, period, routes
        self.connections = 0

    def run(self):
        conn = Https(self.web)
        for k, _ in enumerate(self.every(self.period)):
            path = self.routes[k % len(self.routes)]
            try:
                status, headers, body = conn.get(path, {"Authorization": self.web.auth})
            except (OSError, http.client.HTTPException) as e:
                self.failures.add("api no answer GET %s" % path, repr(e))
                conn.close()
                continue
            if status != 200:
                retry = headers.get("retry-after")
                self.failures.add("api %d GET %s" % (status, path),
                                  body[:200] + (b" (Retry-After %s)" % retry.encode()
                                                if retry else b""))
                continue
            try:
                json.loads(body)
            except ValueError:
                self.failures.add("api bad JSON GET %s" % path, body[:200])
                continue
            self.ok += 1
        self.connections = conn.opened
        conn.close()


class Page(Load):
    """A browser loading the UI once a minute: a new connection, the page, its script and
    its style, gzip accepted."""

    PATHS = ("/", "/app.js", "/app.css")

    def __init__(self, name, failures, halt, web, address="127.0.0.1", period=60):
        super().__init__(name, failures, halt)
        self.web, self.address, self.period = web, address, period

    def run(self):
        for _ in self.every(self.period):
            conn = Https(self.web, self.address)
            try:
                for path in self.PATHS:
                    try:
                        status, _, body = conn.get(path, {"Accept-Encoding": "gzip"})
                    except (OSError, http.client.HTTPException) as e:
                        self.failures.add("page no answer GET %s" % path, repr(e))
                        break
                    if status != 200 or not body:
                        self.failures.add("page %d GET %s" % (status, path), body[:200])
                    else:
                        self.ok += 1
            finally:
                conn.close()


class Stream(Load):
    """A reader of one long-lived stream that must keep delivering: reconnects after the
    device ends it (a failure: `<name> dropped`) and reports each gap of more than STALL_S
    without an item (`<name> stall`)."""

    def __init__(self, name, failures, halt):
        super().__init__(name, failures, halt)
        self.last = None
        self.max_gap = 0.0
        self.connected = threading.Event()
        self._stalled = False

    def item(self):
        self._check_stall()  # a gap that ends between two checks is a stall too
        now = time.monotonic()
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last, self._stalled = now, False
        self.ok += 1

    def run(self):
        while not self.halt.is_set():
            try:
                with self.open() as s:
                    s.settimeout(1)
                    self.connected.set()
                    if self.last is None:
                        self.last = time.monotonic()
                    if self._read(s):
                        return
                self.failures.add(self.name + " dropped", "the device ended it")
            except OSError as e:
                self.failures.add(self.name + " dropped", repr(e))
            self._check_stall()
            self.halt.wait(1)

    def _read(self, s):
        """Feeds what arrives to take(); True once halted, False when the device ended it."""
        while not self.halt.is_set():
            try:
                data = s.recv(8192)
            except TimeoutError:
                data = None
            if data == b"":
                return False
            if data:
                self.take(data)
            self._check_stall()
        return True

    def _check_stall(self):
        gap = time.monotonic() - (self.last or time.monotonic())
        if gap > STALL_S and not self._stalled:
            self._stalled = True
            self.failures.add(self.name + " stall", "nothing for %.0f s" % gap)


class Events(Stream):
    """The UI's event stream (GET /api/v1/events, Basic auth as a script's stream): counts
    its events by name; every event's data must be JSON."""

    def __init__(self, name, failures, halt, web):
        super().__init__(name, failures, halt)
        self.web = web
        self.by_name = collections.Counter()
        self._buf = self._head = None

    def open(self):
        s = self.web.ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", self.web.port), TIMEOUT_S),
            server_hostname=NAME)
        s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n"
                  % (NAME.encode(), self.web.auth.encode()))
        self._buf, self._head = b"", None
        return s

    def take(self, data):
        self._buf += data
        if self._head is None:
            if b"\r\n\r\n" not in self._buf:
                return
            self._head, self._buf = self._buf.split(b"\r\n\r\n", 1)
            if b" 200 " not in self._head.split(b"\r\n", 1)[0]:
                raise OSError("answer %r" % self._head[:60])
        while b"\n\n" in self._buf:
            event, self._buf = self._buf.split(b"\n\n", 1)
            fields = [line.split(b": ", 1) for line in event.split(b"\n") if b": " in line]
            name = b"".join(v for k, v in fields if k == b"event").decode() or "message"
            try:
                json.loads(b"\n".join(v for k, v in fields if k == b"data"))
            except ValueError:
                self.failures.add("events bad JSON", event[:200])
            self.by_name[name] += 1
            self.item()


class Raw(Stream):
    """A raw-stream reader (e.g. Home Assistant's DSMR integration on the raw port): every
    telegram must arrive byte for byte as the meter sent it."""

    def __init__(self, name, failures, halt, port, frames):
        super().__init__(name, failures, halt)
        self.port = port
        self.frames = {TELEGRAM_TS.search(f).group(1): f for f in frames}
        self.seen = set()  # the timestamps of the telegrams that arrived whole
        self._buf = b""

    def open(self):
        self._buf = b""
        return socket.create_connection(("127.0.0.1", self.port), TIMEOUT_S)

    def take(self, data):
        self._buf += data
        while True:
            m = TELEGRAM_END.search(self._buf)
            if m is None:
                return
            telegram, self._buf = self._buf[:m.end()], self._buf[m.end():]
            ts = TELEGRAM_TS.search(telegram)
            if ts is None or self.frames.get(ts.group(1)) != telegram:
                self.failures.add("raw corrupt telegram", telegram[:80])
            else:
                self.seen.add(ts.group(1))
            self.item()


class Mdns(Load):
    """A zeroconf client on the LAN resolving the device's names every period seconds, each
    time with a fresh cache (a cached answer would not ask the device)."""

    def __init__(self, name, failures, halt, client_ip, device_ip, names, period=20):
        super().__init__(name, failures, halt)
        self.client_ip, self.device_ip, self.names = client_ip, device_ip, names
        self.period = period

    def run(self):
        from zeroconf import AddressResolverIPv4, IPVersion, Zeroconf

        for k, _ in enumerate(self.every(self.period)):
            name = self.names[k % len(self.names)]
            try:
                zc = Zeroconf(interfaces=[self.client_ip], ip_version=IPVersion.V4Only)
                try:
                    r = AddressResolverIPv4(name + ".")
                    r.request(zc, 5000)
                    got = sorted(r.parsed_addresses())
                finally:
                    zc.close()
            except OSError as e:
                got = repr(e)
            if got != [self.device_ip]:
                self.failures.add("mdns no answer", "%s: %s" % (name, got))
            else:
                self.ok += 1
