"""The MQTT 3.1.1 session against a scripted broker, on both interpreters: exact packets
out, acknowledgements, inbound commands, keepalive, and broken peers."""
import asyncio

from device.outbuf import Out
from mqtt import session
from mqtt.session import MqttError, Session

PORT = 15489


def test_connect_packet_bytes():
    assert session.connect_packet("SC1", 60) == (
        b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03SC1")
    pkt = session.connect_packet("SC1", 30, "u", "pw", ("t/s", "offline", True))
    assert pkt == (b"\x10\x24\x00\x04MQTT\x04\xee\x00\x1e\x00\x03SC1"
                   b"\x00\x03t/s\x00\x07offline\x00\x01u\x00\x02pw")


def test_publish_packet_and_long_lengths():
    assert session.publish_packet("a/b", "hi") == b"\x30\x07\x00\x03a/bhi"
    assert session.publish_packet("a", b"x", qos=1, retain=True, pid=258) == (
        b"\x33\x06\x00\x01a\x01\x02x")
    big = session.publish_packet("t", b"z" * 200)
    assert big[:3] == b"\x30\xcb\x01" and len(big) == 3 + 203
    huge = session.publish_packet("t", b"z" * 20000)
    assert huge[:4] == b"\x30\xa3\x9c\x01"



def test_a_packet_built_in_the_buffer_is_the_same_packet():
    out = Out(64)
    for payload in (b"hi", b"z" * 200, b"y" * 2000):
        for retain in (False, True):
            want = session.publish_packet("a/b", payload, retain=retain)
            assert bytes(session.publish_into(out, "a/b", payload, retain)) == want
            filled = session.publish_into(out, "a/b", lambda o, p=payload: o.write(p), retain)
            assert bytes(filled) == want
            want = session.publish_packet("a/b", payload, 1, retain, 0x1234)  # QoS 1
            assert bytes(session.publish_into(out, "a/b", payload, retain, 0x1234)) == want

def test_parse_publish():
    assert session.parse_publish(0x30, b"\x00\x01ahello") == (b"a", b"hello", 0, 0)
    assert session.parse_publish(0x32, b"\x00\x01a\x00\x07x") == (b"a", b"x", 1, 7)
    for first, body in ((0x36, b"\x00\x01a"), (0x30, b"\x00"), (0x32, b"\x00\x05ab"),
                        (0x32, b"\x00\x01a\x00")):
        try:
            session.parse_publish(first, body)
        except ValueError:
            continue
        raise AssertionError(body)


async def _read_packet(r):
    first = (await r.readexactly(1))[0]
    n = shift = 0
    while True:
        b = (await r.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, (await r.readexactly(n) if n else b"")


async def _with_broker(script, client):
    """Runs script(reader, writer) as the broker for one connection and client(session)
    against it; returns what the client returned (or the exception it raised)."""
    done = asyncio.Event()
    seen = []

    async def handler(r, w):
        try:
            await script(r, w, seen)
        finally:
            w.close()
            await w.wait_closed()
            done.set()

    server = await asyncio.start_server(handler, "127.0.0.1", PORT)
    r, w = await asyncio.open_connection("127.0.0.1", PORT)
    got = []
    s = Session(r, w, lambda t, p: got.append((t, p)), timeout=2)
    try:
        result = await client(s)
    except MqttError as e:
        result = e
    w.close()
    await w.wait_closed()
    await done.wait()
    server.close()
    await server.wait_closed()
    return result, seen, got


def test_session_publishes_subscribes_and_takes_commands():
    async def broker(r, w, seen):
        seen.append(await _read_packet(r))  # CONNECT
        w.write(b"\x20\x02\x00\x00")
        seen.append(await _read_packet(r))  # QoS 1 publish
        w.write(b"\x40\x02\x00\x01")
        seen.append(await _read_packet(r))  # SUBSCRIBE
        w.write(b"\x90\x03\x00\x02\x01")
        seen.append(await _read_packet(r))  # QoS 0 publish
        w.write(b"\x32\x0d\x00\x03cmd\x00\x09reboot")  # a command at QoS 1
        seen.append(await _read_packet(r))  # its PUBACK
        seen.append(await _read_packet(r))  # PINGREQ after a silent keepalive period
        w.write(b"\xd0\x00")
        seen.append(await _read_packet(r))  # DISCONNECT

    async def client(s):
        await s.connect("SC1", 60, will=("st", "offline", True))
        s.keepalive = 1
        reader = asyncio.create_task(s.run())
        await s.publish("st", "online", 1, True)
        await s.subscribe("cmd", 1)
        await s.publish("data", b"{}")
        await asyncio.sleep(1.3)
        reader.cancel()
        await s.disconnect()
        return s.sent

    sent, seen, got = asyncio.run(_with_broker(broker, client))
    assert sent == 2
    assert seen[0][0] == 0x10 and seen[0][1].endswith(b"\x00\x02st\x00\x07offline")
    assert seen[1] == (0x33, b"\x00\x02st\x00\x01online")
    assert seen[2] == (0x82, b"\x00\x02\x00\x03cmd\x01")
    assert seen[3] == (0x30, b"\x00\x04data{}")
    assert seen[4] == (0x40, b"\x00\x09")
    assert seen[5] == (0xC0, b"") and seen[6] == (0xE0, b"")
    assert got == [(b"cmd", b"reboot")]


def _failure(broker_answer, client_steps=None):
    async def broker(r, w, seen):
        await _read_packet(r)
        w.write(broker_answer)
        await w.drain()
        await asyncio.sleep(0.3)

    async def client(s):
        await s.connect("SC1")
        if client_steps:
            await client_steps(s)
        return "no error"

    return asyncio.run(_with_broker(broker, client))[0]


def test_refused_and_broken_brokers_raise_clear_errors():
    e = _failure(b"\x20\x02\x00\x05")
    assert isinstance(e, MqttError) and str(e) == "broker refused: not authorized"
    assert str(_failure(b"\x20\x02\x00\x04")) == "broker refused: bad username or password"
    assert str(_failure(b"\x30\x00")) == "protocol error: expected CONNACK"
    assert str(_failure(b"")) == "broker closed the connection before CONNACK"

    async def run(s):
        await s.run()
    assert str(_failure(b"\x20\x02\x00\x00\x30\xff\xff\x7f", run)).startswith(
        "protocol error: 2097151-byte packet")
    assert str(_failure(b"\x20\x02\x00\x00\x10\x00", run)) == "protocol error: packet type 1"
    assert str(_failure(b"\x20\x02\x00\x00", run)) == "connection closed by the broker"

    async def unacked(s):
        await s.publish("t", "x", 1)
    assert str(_failure(b"\x20\x02\x00\x00", unacked)) == "broker did not acknowledge"
