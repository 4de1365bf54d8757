"""Hypothesis against the Modbus TCP server's network input: any bytes, in any chunks,
get well-formed answers or a closed connection, never an exception in the server, and
the next client is served."""
import asyncio
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

import modbus.pdu
from meter.latest import Latest
from modbus import registers
from modbus.tcp import ModbusServer
from support import parse_one

IMAGE = registers.build_image(parse_one("dsmr/v5.txt"))
GOOD = struct.pack(">HHHBBHH", 0x4242, 0, 6, 1, 3, 0x8016, 2)

frames = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda tid, unit, pdu: struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu,
              st.integers(0, 0xFFFF), st.integers(0, 255), st.binary(min_size=1, max_size=20)),
    st.builds(lambda tid, fc, addr, qty: struct.pack(">HHHBBHH", tid, 0, 6, 1, fc, addr, qty),
              st.integers(0, 0xFFFF), st.sampled_from((3, 4, 6, 0x83)), st.integers(0, 0xFFFF),
              st.integers(0, 200)),
)


def parse_answers(data):
    """Split a reply stream into (tid, pdu); asserts each is well-formed."""
    out = []
    while data:
        tid, pid, length, _unit = struct.unpack(">HHHB", data[:7])
        assert pid == 0 and 2 <= length <= 254 and len(data) >= 6 + length
        pdu = data[7:6 + length]
        if pdu[0] & 0x80:
            assert len(pdu) == 2 and pdu[1] in (1, 2, 3)
        else:
            assert pdu[0] in (3, 4) and pdu[1] == len(pdu) - 2
        out.append((tid, pdu))
        data = data[6 + length:]
    return out


async def session(stream, cuts, good=GOOD, answer=13, image=IMAGE):
    """stream sent in pieces cut at cuts to a Modbus TCP server serving image, then a
    second client's good request: (what the first got, the first answer bytes of the
    second, the loop's errors, the server)."""
    errors = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
    lt = Latest(30000, 0)
    lt.update({}, image, 0)
    srv = ModbusServer(lt, lambda: 1, idle_s=0.3)
    await srv.start(0, "127.0.0.1")
    port = srv.server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pos = 0
    try:
        for c in sorted(cuts) + [len(stream)]:
            writer.write(stream[pos:c])
            pos = c
            await asyncio.sleep(0)
        writer.write_eof()  # the server answers what is complete, then closes
    except OSError:
        pass  # the server already closed on garbage
    got = b""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), 2)
            if not chunk:
                break
            got += chunk
    except (asyncio.TimeoutError, ConnectionError):
        pass
    reader2, writer2 = await asyncio.open_connection("127.0.0.1", port)
    writer2.write(good)
    again = await asyncio.wait_for(reader2.readexactly(answer), 2)
    writer.close()
    writer2.close()
    srv.server.close()
    await srv.server.wait_closed()
    # A connection's task still closing would be cancelled by asyncio.run, and reported.
    me = asyncio.current_task()
    await asyncio.gather(*[t for t in asyncio.all_tasks() if t is not me],
                         return_exceptions=True)
    return got, again, errors, srv


@settings(max_examples=150, deadline=None)
@given(st.lists(frames, max_size=6), st.lists(st.integers(0, 2000), max_size=5))
def test_any_input_gets_answers_or_a_close_and_the_next_client_is_served(parts, cuts):
    stream = b"".join(parts)
    got, again, errors, srv = asyncio.run(session(stream, [c % (len(stream) + 1) for c in cuts]))
    assert errors == []
    answers = parse_answers(got)
    assert len(answers) <= srv.requests
    assert again[:9] == b"\x42\x42\x00\x00\x00\x07\x01\x03\x04"


@given(st.binary(min_size=1, max_size=260))
def test_any_pdu_gets_an_answer(pdu):
    out = bytearray(modbus.pdu.MAX_ANSWER)
    n = modbus.pdu.answer(pdu, 0, len(pdu), IMAGE, True, out, 0)
    assert n == 2 or (out[0] in (3, 4) and n == 2 + out[1])
