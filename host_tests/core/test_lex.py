"""The byte scanners: the viper variants (on MicroPython) equal their Python twins."""
from array import array

from meter import lex
from support import corpus, corpus_names


def test_crc16_arc_check_value():
    assert lex.crc16(b"123456789", 0, 9) == 0xBB3D
    assert lex.crc16_py(b"123456789", 0, 9) == 0xBB3D
    assert lex.crc16_bitwise(b"123456789", 0, 9) == 0xBB3D


def test_crc_modbus_check_value():
    assert lex.crc_modbus(b"123456789", 0, 9) == 0x4B37
    assert lex.crc_modbus_py(b"123456789", 0, 9) == 0x4B37
    assert lex.crc_modbus(b"x123456789", 1, 10) == 0x4B37


def test_variants_agree_on_every_corpus_line():
    out1 = array("i", (0, 0, 0))
    out2 = array("i", (0, 0, 0))
    for name in corpus_names("dsmr") + corpus_names("tic"):
        buf = bytearray(corpus(name))
        n = len(buf)
        assert lex.crc16(buf, 0, n) == lex.crc16_py(buf, 0, n)
        pos = 0
        while pos < n:
            k1 = lex.line(buf, pos, n, out1)
            k2 = lex.line_py(buf, pos, n, out2)
            assert (k1, list(out1[:2])) == (k2, list(out2[:2])), (name, pos)
            e = out2[1]
            assert lex.tic_sum(buf, pos, e) == lex.tic_sum_py(buf, pos, e)
            assert lex.label_hash(buf, pos, e) == lex.label_hash_py(buf, pos, e)
            for a in range(pos, min(e, pos + 40)):
                m1 = lex.number(buf, a, e, out1)
                m2 = lex.number_py(buf, a, e, out2)
                assert m1 == m2, (name, a)
                if m1 >= 0:
                    assert list(out1) == list(out2), (name, a)
            pos = e + 1


def test_obis_keys():
    def key(s):
        b = s.encode()
        return lex.obis_key(b, 0, len(b))

    assert key("1-0:1.8.1") == (1 << 28) | (1 << 16) | (8 << 8) | 1
    assert key("3-15:255.255.255") == (1 << 30) - 1
    for bad in ("4-0:1.8.1", "1-16:1.8.1", "1-0:256.8.1", "1-0:1.8", "1-0:1.8.1.", "", "1:0-1.8.1"):
        assert key(bad) == -1, bad


def test_numbers():
    out = array("i", (0, 0, 0))
    for f in (lex.number, lex.number_py):
        assert f(b"00.244*kW)", 0, 10, out) == 244 and list(out) == [3, 6, 1]
        assert f(b"0230.0*V)", 0, 9, out) == 2300 and list(out) == [1, 6, 0]
        assert f(b"999999999)", 0, 10, out) == 999999999
        assert f(b"1234567890)", 0, 11, out) == -1
        assert f(b"1.2.3)", 0, 6, out) == -1
        assert f(b"12.)", 0, 4, out) == -1
        assert f(b")", 0, 1, out) == -1


def test_xor8_the_image_checksum():
    buf = bytearray(bytes(range(256)) * 3)
    for a, b in ((0, 0), (0, 768), (5, 700), (767, 768)):
        want = 0xEF
        for v in buf[a:b]:
            want ^= v
        assert lex.xor8(buf, a, b, 0xEF) == lex.xor8_py(buf, a, b, 0xEF) == want
    assert lex.xor8(memoryview(buf)[256:], 0, 256, 0xEF) == 0xEF  # 0..255 XOR to 0
