"""Hypothesis against everything the MQTT side reads from the network or the config: any
bytes from a broker end a session with MqttError (never another exception), inbound
PUBLISH bodies and commands never crash, broker URLs and SNTP answers are validated."""
import asyncio
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from device import config, schema
from device.identity import Identity
from device.outbuf import Out
from device.wallclock import WallClock
from meter.latest import Latest
from mqtt import session
from mqtt.publisher import Publisher
from mqtt.session import MqttError, Session
from net import sntp


def packets():
    """Broker packets, well-formed or not."""
    body = st.binary(max_size=40)
    return st.one_of(
        st.binary(max_size=60),
        st.builds(lambda t, b: bytes((t, len(b))) + b, st.integers(0, 255), body),
        st.builds(lambda b: bytes((0x32, len(b) + 2)) + b + b"\x00\x01", body),
        st.builds(lambda pid: b"\x40\x02" + struct.pack(">H", pid), st.integers(0, 0xFFFF)),
        st.builds(lambda rc: b"\x90\x03\x00\x01" + bytes((rc,)), st.integers(0, 255)),
        st.just(b"\xd0\x00"), st.just(b"\x30\xff\xff\xff\xff\x7f"),
    )


def _session(data, connack=b"\x20\x02\x00\x00"):
    """A session against a loopback broker that answers CONNECT with connack, sends data
    and closes; returns the commands the session took in."""
    got = []

    async def broker(r, w):
        await r.read(64)  # the CONNECT
        w.write(connack + data)
        await w.drain()
        w.close()
        await w.wait_closed()

    async def main():
        server = await asyncio.start_server(broker, "127.0.0.1", 0)
        r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            s = Session(r, w, lambda t, p: got.append((t, p)), timeout=1)
            await s.connect("SC1")
            await s.run()
        finally:
            w.close()
            server.close()
            await server.wait_closed()

    try:
        asyncio.run(main())
    except MqttError:
        return got
    raise AssertionError("the session ended without MqttError")


@settings(max_examples=300, deadline=None)
@given(st.lists(packets(), max_size=8))
def test_any_broker_bytes_end_the_session_with_mqtt_error(chunks):
    for topic, payload in _session(b"".join(chunks)):
        assert isinstance(topic, bytes) and isinstance(payload, bytes)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=8))
def test_any_connack_is_accepted_or_refused_with_mqtt_error(answer):
    _session(b"", answer)


@settings(max_examples=300, deadline=None)
@given(st.integers(0x30, 0x3F), st.binary(max_size=40))
def test_parse_publish_returns_or_raises_value_error(first, body):
    try:
        topic, payload, qos, pid = session.parse_publish(first, body)
    except ValueError:
        return
    assert qos in (0, 1, 2) and len(topic) + len(payload) <= len(body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.builds(lambda h, p: "mqtts://%s:%s" % (h, p),
                                                 st.text(max_size=10), st.text(max_size=6))))
def test_broker_urls_are_parsed_or_refused_with_a_reason(url):
    try:
        host, port = schema.broker_address(url)
    except ValueError as e:
        assert str(e)
        return
    assert url.startswith("mqtts://") and host and 1 <= port <= 65535


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_sntp_answers_are_parsed_or_ignored(data):
    t = sntp.parse(data)
    assert t is None or isinstance(t, int)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_command_payload_is_remembered_as_text(payload):
    cfg = dict(config.DEFAULTS["MQTT"], Enabled=True)
    pub = Publisher(cfg, Identity("/nonexistent", "SC1"), Latest(1000, 0), WallClock(),
                    lambda: 0, lambda: None, None, "sim", "0", Out(1024))
    pub._on_command(b"devices/x/command", payload)
    assert isinstance(pub._command, str)
