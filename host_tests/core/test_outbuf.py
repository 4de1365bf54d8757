"""The preallocated output buffer (device/outbuf) the JSON texts are written into."""
import json

from device.outbuf import Out
from meter import reading
from support import parse_one


class Sink:
    def __init__(self):
        self.data = b""

    def write(self, data):
        self.data += bytes(data)


def test_without_a_sink_it_grows_and_keeps_everything():
    out = Out(8)
    json.dump({"a": [1, 2.5, None, 'x"y']}, out)
    out.write(b"!")
    assert bytes(out.view()) == b'{"a": [1, 2.5, null, "x\\"y"]}!'
    assert bytes(out.clear().view()) == b""


def test_with_a_sink_a_full_buffer_goes_out_and_is_reused():
    r = parse_one("dsmr/v5.txt")
    sink = Sink()
    out = Out(64).clear(sink)
    reading.write_json(out, r)
    out.write(b"x" * 100)  # larger than the buffer: straight to the sink
    out.write(b"end")
    sink.write(out.view())
    assert len(out.buf) == 64
    assert sink.data == (reading.to_json(r) + "x" * 100 + "end").encode()


def test_json_of_a_reading_with_raw_objects():
    r = parse_one("dsmr/v5.txt")
    text = reading.to_json(r, ("power_w", "mbus"), {"1-0:1.7.0": "00.193*kW"})
    assert json.loads(text) == {"power_w": r["power_w"], "mbus": r["mbus"],
                                "raw": {"1-0:1.7.0": "00.193*kW"}}
    assert reading.to_json({}, ()) == "{}"


def test_single_precision_floats_in_the_fewest_digits_that_read_back():
    """The ESP32's floats, emulated: struct rounds to single precision on both
    interpreters."""
    import struct

    def f32(x):
        return struct.unpack("<f", struct.pack("<f", x))[0]

    for text in ("230.1", "12345.678", "0.193", "1.5", "-2601.5", "7.8e-05"):
        assert reading.float_text(f32(float(text)), f32) == text
    assert reading.float_text(f32(54321.123), f32) == "54321.12"  # what single holds
    for i in range(1, 2000):
        v = f32(i * 7.919)
        s = reading.float_text(v, f32)
        assert f32(float(s)) == v


def test_dump_appends_json_as_json_dumps_writes_it_with_or_without_a_sink():
    from device.outbuf import json_length

    values = [None, True, 12345, -2.5, "quote \" tab \t é", [1, [2, {"a": None}]],
              {"k": "x" * 700}, list(range(200))]
    want = b"".join(json.dumps(v).encode() for v in values)
    out = Out(16)  # no sink: it grows
    for v in values:
        out.dump(v)
    assert bytes(out.view()) == want
    sink = Sink()
    out = Out(64).clear(sink)
    for v in values:
        out.dump(v)
        out.write(b"|")
    sink.write(out.view())
    assert sink.data == b"".join(json.dumps(v).encode() + b"|" for v in values)
    assert len(out.buf) == 64
    assert [json_length(v) for v in values] == [len(json.dumps(v).encode()) for v in values]
