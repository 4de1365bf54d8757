"""An MQTT 3.1.1 client session over an asyncio stream pair (plain or TLS, opened by the
caller): CONNECT with last will, PUBLISH QoS 0/1, SUBSCRIBE, keepalive, DISCONNECT.

One session per connection: any protocol or transport failure raises MqttError and the
caller opens a new connection (clean session, nothing to resume). Writes are serialized
under a lock and time-limited, so a slow broker fails the session instead of stalling
its callers. Only one QoS 1 exchange is in flight at a time: the device publishes its
status and discovery messages one by one and its readings at QoS 0.
"""
import asyncio

try:
    from micropython import const
except ImportError:
    const = int

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)

MAX_IN = const(2048)  # inbound packets are acks and commands; larger is a broken peer

CONNACK_ERRORS = {
    1: "broker refused: protocol version",
    2: "broker refused: client id",
    3: "broker refused: server unavailable",
    4: "broker refused: bad username or password",
    5: "broker refused: not authorized",
}


class MqttError(Exception):
    pass


def _string(s):
    b = s.encode() if isinstance(s, str) else s
    return len(b).to_bytes(2, "big") + b


def _head(first, n):
    """Fixed header: type byte + remaining length varint."""
    head = bytearray((first,))
    while True:
        b = n & 0x7F
        n >>= 7
        head.append(b | 0x80 if n else b)
        if not n:
            return head


def _packet(first, body):
    return bytes(_head(first, len(body))) + body


def connect_packet(client_id, keepalive, user=None, password=None, will=None):
    """will: (topic, payload, retain) published at QoS 1 by the broker if we vanish."""
    flags = 0x02  # clean session
    payload = _string(client_id)
    if will:
        flags |= 0x04 | 0x08 | (0x20 if will[2] else 0)
        payload += _string(will[0]) + _string(will[1])
    if user:
        flags |= 0x80
        payload += _string(user)
        if password:
            flags |= 0x40
            payload += _string(password)
    return _packet(_CONNECT, b"\x00\x04MQTT\x04" + bytes((flags,)) +
                   keepalive.to_bytes(2, "big") + payload)


def publish_packet(topic, payload, qos=0, retain=False, pid=0):
    if isinstance(payload, str):
        payload = payload.encode()
    body = _string(topic)
    if qos:
        body += pid.to_bytes(2, "big")
    return _packet(_PUBLISH | qos << 1 | (1 if retain else 0), body + payload)


def publish_into(out, topic, payload, retain=False, pid=0):
    """A PUBLISH built in out (a device.outbuf.Out), QoS 1 with packet id pid, else QoS 0;
    returns its view. payload: bytes, or fill(out) that writes it there, so no copy of it
    is made on the heap."""
    out.clear()
    out.write(b"\0\0\0\0\0")  # room for the fixed header, written once the size is known
    t = topic.encode()
    out.write(len(t).to_bytes(2, "big"))
    out.write(t)
    if pid:
        out.write(pid.to_bytes(2, "big"))
    if callable(payload):
        payload(out)
    else:
        out.write(payload)
    head = _head(_PUBLISH | (2 if pid else 0) | (1 if retain else 0), out.n - 5)
    start = 5 - len(head)
    out.buf[start:5] = head
    return memoryview(out.buf)[start:out.n]


def subscribe_packet(topic, qos, pid):
    return _packet(_SUBSCRIBE, pid.to_bytes(2, "big") + _string(topic) + bytes((qos,)))


def parse_publish(first, body):
    """(topic, payload, qos, pid) of an inbound PUBLISH body; ValueError when malformed."""
    qos = (first >> 1) & 3
    if qos == 3 or len(body) < 2:
        raise ValueError("bad PUBLISH")
    n = (body[0] << 8) | body[1]
    at = 2 + n
    if qos:
        at += 2
    if at > len(body):
        raise ValueError("bad PUBLISH")
    pid = (body[at - 2] << 8) | body[at - 1] if qos else 0
    return bytes(body[2:2 + n]), bytes(body[at:]), qos, pid


class Session:
    """One connection's protocol state. on_message(topic, payload) is called for every
    inbound PUBLISH (bytes, bytes) from run(); it must not block."""

    def __init__(self, reader, writer, on_message=None, timeout=10, out=None):
        """out: a device.outbuf.Out that QoS 0 packets are built in (else each is a
        fresh bytes object), shared with other tasks under device/outbuf's rule."""
        self._r = reader
        self._out = out
        self._w = writer
        self._on_message = on_message
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._pid = 0
        self._want = 0  # packet id of the QoS 1 / SUBSCRIBE exchange in flight
        self._acked = asyncio.Event()
        self._pinged = False
        self.keepalive = 60
        self.sent = 0

    async def _send(self, pkt, fill=None):
        """Whole packets only, one writer at a time, bounded in time. fill(): the packet
        built in the shared output buffer once the lock is held, and written at once
        (device/outbuf: nothing may wait between filling and writing it)."""
        async with self._lock:
            self._w.write(pkt if fill is None else fill())
            try:
                await asyncio.wait_for(self._w.drain(), self._timeout)
            except asyncio.TimeoutError:
                raise MqttError("broker too slow: write timed out") from None

    async def _read(self):
        """(first byte, body) of the next packet."""
        first = (await self._r.readexactly(1))[0]
        n = shift = 0
        while True:
            b = (await self._r.readexactly(1))[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MqttError("protocol error: bad length")
        if n > MAX_IN:
            raise MqttError("protocol error: %d-byte packet" % n)
        return first, (await self._r.readexactly(n) if n else b"")

    async def connect(self, client_id, keepalive=60, user=None, password=None, will=None):
        self.keepalive = keepalive
        await self._send(connect_packet(client_id, keepalive, user, password, will))
        try:
            first, body = await asyncio.wait_for(self._read(), self._timeout)
        except asyncio.TimeoutError:
            raise MqttError("broker did not answer CONNECT") from None
        except EOFError:
            raise MqttError("broker closed the connection before CONNACK") from None
        if first != _CONNACK or len(body) != 2:
            raise MqttError("protocol error: expected CONNACK")
        if body[1]:
            raise MqttError(CONNACK_ERRORS.get(body[1], "broker refused: code %d" % body[1]))

    def _next_pid(self):
        self._pid = self._pid % 0xFFFF + 1
        return self._pid

    async def _exchange(self, pkt, pid, fill=None):
        """Send a packet that the broker acknowledges, and wait for that ack."""
        self._want = pid
        self._acked.clear()
        await self._send(pkt, fill)
        try:
            await asyncio.wait_for(self._acked.wait(), self._timeout)
        except asyncio.TimeoutError:
            raise MqttError("broker did not acknowledge") from None
        finally:
            self._want = 0

    async def publish(self, topic, payload, qos=0, retain=False):
        """payload: bytes or str; in a session with a buffer, also fill(out) (see
        publish_into)."""
        out = self._out
        if qos:
            pid = self._next_pid()
            if out is None:
                await self._exchange(publish_packet(topic, payload, 1, retain, pid), pid)
            else:
                await self._exchange(None, pid, lambda: publish_into(out, topic, payload,
                                                                     retain, pid))
        elif out is not None:
            await self._send(None, lambda: publish_into(out, topic, payload, retain))
        else:
            await self._send(publish_packet(topic, payload, 0, retain))
        self.sent += 1

    async def subscribe(self, topic, qos=1):
        pid = self._next_pid()
        await self._exchange(subscribe_packet(topic, qos, pid), pid)

    async def run(self):
        """Read packets until the connection fails (raises MqttError, also when an
        answer we send fails). Sends PINGREQ when the broker has been silent for a
        keepalive period; a second silent period means the connection is dead."""
        try:
            while True:
                await self._handle_next()
        except EOFError:
            raise MqttError("connection closed by the broker") from None
        except OSError as e:
            raise MqttError("connection lost: %s" % e) from None

    async def _handle_next(self):
        try:
            first, body = await asyncio.wait_for(self._read(), self.keepalive)
        except asyncio.TimeoutError:
            if self._pinged:
                raise MqttError("broker silent: no PINGRESP") from None
            self._pinged = True
            await self._send(bytes((_PINGREQ, 0)))
            return
        self._pinged = False
        kind = first & 0xF0
        if kind == _PUBLISH:
            try:
                topic, payload, qos, pid = parse_publish(first, body)
            except ValueError as e:
                raise MqttError("protocol error: %s" % e) from None
            if qos:
                await self._send(bytes((_PUBACK, 2)) + pid.to_bytes(2, "big"))
            if self._on_message:
                self._on_message(topic, payload)
        elif kind in (_PUBACK, _SUBACK):
            if len(body) >= 2 and self._want == (body[0] << 8) | body[1]:
                if kind == _SUBACK and body[2:3] == b"\x80":
                    raise MqttError("broker refused the subscription")
                self._acked.set()
        elif kind != _PINGRESP:
            raise MqttError("protocol error: packet type %d" % (first >> 4))

    async def disconnect(self):
        """Clean DISCONNECT: the broker drops the last will."""
        try:
            await self._send(bytes((_DISCONNECT, 0)))
        except (MqttError, OSError):
            pass
