"""Hypothesis against the RTU frame parser: any bytes on the bus, any frame with a valid
CRC, and RTU framing on the TCP port in any chunks get well-formed answers, silence or a
closed connection, never an exception."""
import asyncio
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz_modbus import parse_answers, session

from device import config
from meter.latest import Latest
from modbus import registers, rtu
from modbus.slave import MAX_FRAME, RtuSlave
from support import parse_one

READING = parse_one("dsmr/v5.txt")
IMAGE = registers.build_image(READING)


def seal(b):
    out = bytearray(len(b) + 2)
    out[:len(b)] = b
    rtu.seal(out, len(b))
    return bytes(out)


GOOD = seal(b"\x01\x03\x80\x16\x00\x02")
sealed = st.builds(lambda addr, pdu: seal(bytes([addr]) + pdu), st.sampled_from((0, 16, 17)),
                   st.one_of(st.binary(min_size=1, max_size=20),
                             st.builds(lambda fc, a, v: struct.pack(">BHH", fc, a, v),
                                       st.sampled_from((3, 4, 6, 16)),
                                       st.integers(0, 0xFFFF), st.integers(0, 300))))


def slave():
    lt = Latest(30000, 0)
    lt.update({}, IMAGE, 0)
    cfg = config.merge({})[0]
    return RtuSlave(None, lt, lambda: 1, lambda: cfg, None)


def well_formed(a, addr):
    assert rtu.crc_ok(a, 0, len(a)) and a[0] == addr
    if a[1] & 0x80:
        assert len(a) == 5 and a[2] in (1, 2, 3)
    elif a[1] == 6:
        assert len(a) == 8
    else:
        assert a[1] in (3, 4) and a[2] == len(a) - 5


def handle(s, frame):
    buf = bytearray(MAX_FRAME)
    n = min(len(frame), len(buf))
    buf[:n] = frame[:n]
    return bytes(s._out[:s.handle(buf, n)])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), sealed))
def test_any_bus_frame_gets_a_well_formed_answer_or_silence(frame):
    s = slave()
    a = handle(s, frame)
    if a:
        well_formed(a, 16)
        assert frame[0] == 16 and rtu.crc_ok(frame, 0, len(frame))
    elif len(frame) >= 4 and frame[0] == 16 and rtu.crc_ok(frame, 0, len(frame)):
        raise AssertionError("a frame for this slave went unanswered")
    assert not s.block.changes or frame[0] in (0, 16)


@settings(max_examples=100, deadline=None)
@given(st.lists(sealed, min_size=1, max_size=5), st.binary(max_size=20),
       st.lists(st.integers(0, 300), max_size=4))
def test_rtu_over_tcp_in_any_chunks(frames, garbage, cuts):
    stream = b"".join(frames) + garbage
    got, again, errors, _ = asyncio.run(session(stream, [c % (len(stream) + 1) for c in cuts],
                                                GOOD, 9, IMAGE))
    assert errors == []
    if got and rtu.crc_ok(got, 0, min(len(got), 5 if got[1] & 0x80 else 5 + got[2])):
        while got:  # RTU: every answer a sealed frame, in the order of the requests
            n = 5 if got[1] & 0x80 else 8 if got[1] == 6 else 5 + got[2]
            well_formed(got[:n], got[0])
            got = got[n:]
    else:  # a first frame that is not RTU (e.g. a length-less FC15) is MBAP
        parse_answers(got)
    assert again[:3] == b"\x01\x03\x04"
