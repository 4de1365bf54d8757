"""Framing of chunked streams: boundaries, resync, bounds."""
from meter.framer import DSMR, SILENCE_MS, SIZE, TIC, Framer
from meter.lex import crc16
from support import corpus, corpus_names, parse_all


def ident(kind, frame):
    """A frame as (kind, length, CRC): cheap to keep on a small heap."""
    return (kind, len(frame), crc16(frame, 0, len(frame)))


def _corpus_stream():
    """Every corpus telegram in one 14 KB stream, copied once: the unix port's test heap
    is the device's, where a few such blocks do not fit at once."""
    names = corpus_names("dsmr") + corpus_names("tic")
    parts = [corpus(n) for n in names]
    parts[0] = b"noise" + parts[0]
    return names, b"\r\n".join(parts)


def frames_of(data, chunk, size=SIZE):
    got = []
    f = Framer(lambda kind, buf, n: got.append((kind, n, crc16(buf, 0, n))), size)
    for i in range(0, len(data), chunk):
        f.feed(data[i:i + chunk] if chunk < len(data) else data)
    return got, f


def test_every_chunking_yields_the_same_frames():
    names, stream = _corpus_stream()
    whole, _ = frames_of(stream, len(stream))
    assert len(whole) == len(names)
    for chunk in (1, 2, 3, 7, 64, 113, 1024):
        got, _ = frames_of(stream, chunk)
        assert got == whole, chunk


def test_a_reused_read_buffer_frames_only_its_fill():
    names, stream = _corpus_stream()
    whole, _ = frames_of(stream, len(stream))
    got = []
    f = Framer(lambda kind, buf, n: got.append((kind, n, crc16(buf, 0, n))))
    buf = bytearray(b"/!\x02\x03" * 128)  # stale bytes past the fill must not count
    for i in range(0, len(stream), 97):
        part = stream[i:i + 97]
        buf[:len(part)] = part
        f.feed(buf, len(part))
    assert got == whole


def test_iskra_stx_inside_a_telegram_is_data():
    data = corpus("dsmr/iskra_ie.txt")
    got, _ = frames_of(data, 5)
    assert got == [ident(DSMR, data)]


def test_oversized_telegram_is_dropped_and_the_next_one_kept():
    big = b"/XXX5\r\n\r\n" + b"0-0:96.13.0(" + b"41" * 4000 + b")\r\n!0000\r\n"
    v5 = corpus("dsmr/v5.txt")
    got, f = frames_of(big + v5, 100, size=6144)
    assert got == [ident(DSMR, v5)] and f.oversized == 1


def test_six_kilobyte_telegram_fits():
    body = b"/XXX5\r\n\r\n" + b"0-0:96.13.0(" + b"41" * 3000 + b")\r\n!"
    got, f = frames_of(body + b"1234\r\n", 256)
    assert len(got) == 1 and got[0][1] > 6000 and f.oversized == 0


def test_a_slash_at_a_line_start_ends_the_telegram_before_it():
    v5 = corpus("dsmr/v5.txt")
    cut = v5[:v5.index(b"\n", 300) + 1]
    got, f = frames_of(cut + v5, 17)
    assert got == [ident(DSMR, cut), ident(DSMR, v5)] and f.dropped == 0
    # The parser refuses the cut one: DSMR 5 needs its end line and CRC.
    readings, rejected = parse_all(cut + v5)
    assert len(readings) == 1 and rejected == ["no end line"]


def test_a_slash_inside_a_line_is_data():
    # So a telegram cut inside a line swallows the next one (whose CRC then fails); the
    # one after that starts at a line start again.
    v5 = corpus("dsmr/v5.txt")
    got, f = frames_of(v5[:300] + v5 + v5, 17)
    assert got == [ident(DSMR, v5[:300] + v5), ident(DSMR, v5)]


def test_slash_and_bang_in_a_text_message_are_data():
    t = corpus("regression/dsmr22_text_slash.txt")
    assert t.count(b"/") == 4 and t.count(b"!") == 2
    for chunk in (1, 5, 64, len(t)):
        got, f = frames_of(t + t, chunk)
        assert got == [ident(DSMR, t)] * 2 and f.dropped == 0, chunk


def test_silence_ends_a_telegram_without_end_line():
    data = corpus("regression/dsmr22_no_end_line.txt")
    first = data[:data.index(b"/", 1)]
    got = []
    f = Framer(lambda kind, buf, n: got.append((kind, n, crc16(buf, 0, n))), kinds=DSMR)
    f.feed(first)
    f.tick(0)  # bytes since the last tick: the silence counts from here
    f.tick(SILENCE_MS - 1)
    assert got == []
    f.tick(SILENCE_MS)
    assert got == [ident(DSMR, first)]
    # Silent in the middle of a line: the telegram was cut.
    f.feed(first[:100])
    f.tick(5000)
    f.tick(5000 + SILENCE_MS)
    assert len(got) == 1 and f.dropped == 1
    # After silence a '/' starts a telegram wherever it is.
    f.feed(b"xx" + first)
    f.tick(9000)
    f.tick(9000 + SILENCE_MS)
    assert got == [ident(DSMR, first)] * 2 and f.noise == 2


def test_after_a_dropped_telegram_only_a_slash_at_a_line_start_starts_one():
    big = b"/XXX5\r\n\r\n0-0:96.13.0(" + b"41" * 3500 + b" /XXX5 )\r\n!0000\r\n"
    v5 = corpus("dsmr/v5.txt")
    got, f = frames_of(big + v5, 100, size=4096)
    assert got == [ident(DSMR, v5)] and f.oversized == 1


def test_stx_restarts_a_cut_tic_frame_and_noise_is_counted():
    t = corpus("tic/linky_historique_3ph_openhab.bin")
    got, f = frames_of(b"xyz" + t[:50] + t, 9)
    assert got == [ident(TIC, t)] and f.dropped == 1 and f.noise == 3


def test_a_p1_port_ignores_stx_and_a_tic_port_ignores_slash():
    v5 = corpus("dsmr/v5.txt")
    t = corpus("tic/linky_historique_1ph_hekmon.bin")
    got = []
    f = Framer(lambda kind, buf, n: got.append(kind), kinds=DSMR)
    f.feed(b"\x02junk" + v5 + t + v5)
    assert got == [DSMR, DSMR]
    got.clear()
    f = Framer(lambda kind, buf, n: got.append(kind), kinds=TIC)
    f.feed(b"/junk" + t + v5 + t)
    assert got == [TIC, TIC]


def test_garbage_after_bang_is_dropped():
    v5 = corpus("dsmr/v5.txt")
    bad = v5[:-4] + b"ZZZZZZZZZZ\r\n"
    got, f = frames_of(bad + v5, 50)
    assert got == [ident(DSMR, v5)] and f.dropped == 1


def test_feed_allocates_nothing_per_byte():
    import gc

    if not hasattr(gc, "mem_alloc"):
        return
    stream = corpus("dsmr/v5.txt") * 4
    f = Framer(lambda kind, buf, n: None)
    f.feed(stream)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        f.feed(stream)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    # One memoryview per chunk and one slice per copied segment, not per byte.
    assert used < 1024, used


def test_random_bytes_keep_the_heap_bounded():
    import gc

    from meter.decoder import Decoder

    if not hasattr(gc, "mem_alloc"):
        return
    seed = [12345]

    def noise(n):
        out = bytearray(n)
        x = seed[0]
        for i in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = (b"/!\r\n()\x02\x03\x04"[x % 9]) if x & 0x300 == 0 else (x >> 16) & 0xFF
        seed[0] = x
        return bytes(out)

    v5 = corpus("dsmr/v5.txt")
    dec = Decoder(lambda r, raw, buf, n: None, kinds=DSMR)
    clock = [0]

    def pause():  # the meter's pause before its next telegram
        dec.tick(clock[0])
        clock[0] += 2 * SILENCE_MS
        dec.tick(clock[0])

    dec.feed(noise(2000), 0)
    pause()
    dec.feed(v5, 0)
    gc.collect()
    baseline = gc.mem_alloc()
    for _ in range(40):
        dec.feed(noise(2500), 0)
        pause()
        dec.feed(v5, 0)
    gc.collect()
    # On a P1 port no telegram after the noise is lost: only '/' starts a frame, and a
    # telegram the noise seemed to start is over once the line is silent.
    assert dec.valid == 41, (dec.valid, dec.rejected, dec.framer.dropped)
    assert gc.mem_alloc() - baseline < 2048, gc.mem_alloc() - baseline
