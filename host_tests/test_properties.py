"""Property tests (hypothesis) of the framer and parsers, on CPython."""
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meter.decoder import Decoder
from meter.dsmr import DsmrParser
from meter.framer import SILENCE_MS
from meter.tic import TicParser
from support import corpus, corpus_names, parse_all

NAMES = corpus_names("dsmr") + corpus_names("tic")
STREAM = b"\r\n".join(corpus(n) for n in NAMES)
CRC_TELEGRAMS = [n for n in corpus_names("dsmr") if not n.endswith(("v2_2.txt", "v3.txt"))] + [
    "regression/" + n for n in ("dsmr5_channel1.txt", "dsmr4_lowercase.txt",
                                "dsmr5_phases_only.txt", "dsmr5_four_mbus.txt")]
# A DSMR 2.2 telegram without end line and with an empty text message (0-0:96.13.0()).
DSMR22 = corpus("regression/dsmr22_no_end_line.txt")
DSMR22 = DSMR22[:DSMR22.index(b"/", 1)]
TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="()"),
               max_size=120)
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
    dec.end()
    return got


def _chunks(data, cuts):
    cuts = sorted(set([c for c in cuts if c < len(data)] + [0, len(data)]))
    return [data[a:b] for a, b in zip(cuts, cuts[1:])]


WHOLE = _frames([STREAM])


@SETTINGS
@given(st.lists(st.integers(0, len(STREAM)), max_size=60))
def test_any_chunking_yields_the_same_telegrams(cuts):
    assert _frames(_chunks(STREAM, cuts)) == WHOLE
    assert len(WHOLE) == len(NAMES)


@SETTINGS
@given(TEXT, st.lists(st.integers(0, 120), min_size=1, max_size=5), st.booleans(),
       st.lists(st.integers(1, 2000), max_size=20))
def test_a_slash_in_a_text_message_never_splits_a_telegram(text, slashes, end_line, cuts):
    for i in slashes:
        text = text[:i] + "/" + text[i:]
    telegram = DSMR22.replace(b"0-0:96.13.0()", b"0-0:96.13.0(%s)" % text.encode())
    if end_line:
        telegram += b"!\r\n"
    readings = []
    rejected = []
    dec = Decoder(lambda r, raw, buf, n: readings.append(r),
                  lambda kind, reason, buf, n: rejected.append(reason))
    for c in _chunks(telegram * 2, cuts):
        dec.feed(c, 0)
    dec.end()
    assert rejected == [] and dec.framer.dropped == 0
    assert [r["power_w"] for r in readings] == [1230, 1230]
    assert readings[0]["gas_m3"] == 1234.567 and readings[0]["energy_import_kwh"] == 3580.245


@SETTINGS
@given(st.sampled_from(CRC_TELEGRAMS), st.data())
def test_any_single_byte_change_is_refused(name, data):
    telegram = corpus(name)
    i = data.draw(st.integers(0, len(telegram) - 1))
    new = data.draw(st.integers(0, 255))
    assume(new != telegram[i])
    # CRC digits count in either case: a letter's case flipped there is the same telegram.
    assume(not (i > telegram.rindex(b"!") and bytes([new]).upper() == telegram[i:i + 1].upper()))
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
        dec.tick(i * 100)
        if i % 100:  # the line falls silent after every other chunk
            dec.tick(i * 100 + SILENCE_MS)
    dec.end()
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
