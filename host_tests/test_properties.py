"""Property tests (hypothesis) of the framer and parsers, on CPython."""
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meter.decoder import Decoder
from meter.dsmr import DsmrParser
from meter.tic import TicParser
from support import corpus, corpus_names, parse_all

NAMES = corpus_names("dsmr") + corpus_names("tic")
STREAM = b"\r\n".join(corpus(n) for n in NAMES)
CRC_TELEGRAMS = [n for n in corpus_names("dsmr") if not n.endswith(("v2_2.txt", "v3.txt"))]
# Bytes that mean something to the framer or parsers, plus corpus text.
ALPHABET = st.sampled_from(b"/!\r\n()*.:-\x02\x03\x04\t 0123456789ABCDEFkWhSW")
FRAGMENTS = st.sampled_from([STREAM[i:i + 64] for i in range(0, len(STREAM), 61)])
FUZZ = st.lists(st.one_of(st.binary(max_size=64), FRAGMENTS,
                          st.lists(ALPHABET, max_size=64).map(bytes)), max_size=40).map(b"".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _frames(chunks):
    got = []
    dec = Decoder(lambda r, raw, buf, n: got.append(bytes(buf[:n])))
    for c in chunks:
        dec.feed(c, 0)
    return got


WHOLE = _frames([STREAM])


@SETTINGS
@given(st.lists(st.integers(0, len(STREAM)), max_size=60))
def test_any_chunking_yields_the_same_telegrams(cuts):
    cuts = sorted(set(cuts + [0, len(STREAM)]))
    chunks = [STREAM[a:b] for a, b in zip(cuts, cuts[1:])]
    assert _frames(chunks) == WHOLE
    assert len(WHOLE) == len(NAMES)


@SETTINGS
@given(st.sampled_from(CRC_TELEGRAMS), st.data())
def test_any_single_byte_change_is_refused(name, data):
    telegram = corpus(name)
    i = data.draw(st.integers(0, len(telegram) - 1))
    new = data.draw(st.integers(0, 255))
    assume(new != telegram[i])
    changed = telegram[:i] + bytes([new]) + telegram[i + 1:]
    readings, _ = parse_all(changed)
    assert readings == []


@SETTINGS
@given(FUZZ)
def test_random_bytes_never_raise_and_stay_bounded(data):
    dec = Decoder(lambda r, raw, buf, n: None, raw=True, size=2048)
    size = len(dec.framer.buf)
    for i in range(0, len(data), 50):
        dec.feed(data[i:i + 50], 0)
    assert len(dec.framer.buf) == size and dec.framer._n <= size


@SETTINGS
@given(FUZZ)
def test_parsers_refuse_garbage_with_a_reason(data):
    for parser in (DsmrParser(), TicParser()):
        for frame in (data, b"/" + data + b"\r\n!\r\n", b"\x02\n" + data + b"\r\x03"):
            try:
                parser.parse(frame, len(frame), 0, {})
            except ValueError as e:
                assert str(e)


@SETTINGS
@given(st.sampled_from(NAMES), st.data())
def test_mutated_corpus_frames_never_crash_the_parsers(name, data):
    frame = bytearray(corpus(name))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(frame) - 1))
        op = data.draw(st.integers(0, 2))
        if op == 0:
            frame[i] = data.draw(st.integers(0, 255))
        elif op == 1:
            del frame[i]
        else:
            frame.insert(i, data.draw(ALPHABET))
    parser = TicParser() if name.startswith("tic/") else DsmrParser()
    try:
        parser.parse(frame, len(frame), 0, {})
    except ValueError:
        pass
