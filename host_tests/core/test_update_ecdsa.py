"""ECDSA P-256 verification against fixed vectors, in ESP-IDF's raw formats (key X || Y,
signature r || s, big-endian). Runs on the unix port too, which cannot make keys: the
parity with espsecure and cryptography is host_tests/test_signing.py."""
import hashlib

from update import ecdsa

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# RFC 6979, A.2.5 (ECDSA, 256 bits, prime field): the key pair and the SHA-256 signatures
# of "sample" and "test"
RFC_KEY = bytes.fromhex(
    "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
    "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299")
SAMPLE = bytes.fromhex(
    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
    "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8")
TEST = bytes.fromhex(
    "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
    "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083")
# Edge keys, signed with cryptography 50.0.2 (RFC 6979 signing) over SHA-256(b"hello"):
# private key 1 (Q = G: G + Q is a doubling) and n - 1 (Q = -G: G + Q is infinity)
HELLO = hashlib.sha256(b"hello").digest()
G = bytes.fromhex(
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
G_SIG = bytes.fromhex(
    "fe485cf09056db3fec44540ce06a9abf8ac1498d5cae2fa5c36519afaff98487"
    "448fcd767dfeee08940317d1e01d4296b9bd323629771d118ea10674dbb47755")
MINUS_G = G[:32] + bytes.fromhex(
    "b01cbd1c01e58065711814b583f061e9d431cca994cea1313449bf97c840ae0a")
MINUS_G_SIG = bytes.fromhex(
    "09375b18fa0675fa08b916b2150a0c8879ea9d0dfa9a5fd1b125ac4a1f9b895b"
    "784e182f763ed0fab08dc41f16537f6021524e33b81282e24260a133af241d4d")
# u1*G + u2*Q lands on x = n + 3 (between n and p), r = 3: the key solved for that point
# (Wycheproof's way), the signature accepted by OpenSSL through cryptography. r + n and
# s + n still fit in 32 bytes: the range checks are what rejects them
BIG_X_KEY = bytes.fromhex(
    "9619e0b855fc788909a4b88848be7633cf16963a776819e1397059f82186b17d"
    "f2b28dc922d5dfc6bfd9dc3ab3e61c3d731414915e8f5bd9fcbc99d30fd29755")
BIG_X_SIG = (3).to_bytes(32, "big") + (0x1234567).to_bytes(32, "big")
BIG_X_DIGEST = hashlib.sha256(b"x >= n").digest()


def sha(m):
    return hashlib.sha256(m).digest()


def flip(b, bit):
    out = bytearray(b)
    out[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(out)


def raises(f, *args):
    try:
        f(*args)
    except ValueError as e:
        return str(e)
    return None


def sig(r, s):
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_rfc6979_vectors_verify():
    assert ecdsa.verify(RFC_KEY, sha(b"sample"), SAMPLE)
    assert ecdsa.verify(RFC_KEY, sha(b"test"), TEST)
    assert ecdsa.verify(memoryview(RFC_KEY), bytearray(sha(b"test")), memoryview(TEST))


def test_edge_keys_and_x_above_n_verify():
    assert ecdsa.verify(G, HELLO, G_SIG)
    assert ecdsa.verify(MINUS_G, HELLO, MINUS_G_SIG)
    assert ecdsa.verify(BIG_X_KEY, BIG_X_DIGEST, BIG_X_SIG)
    assert not ecdsa.verify(BIG_X_KEY, BIG_X_DIGEST, sig(3 + N, 0x1234567))
    assert not ecdsa.verify(BIG_X_KEY, BIG_X_DIGEST, sig(3, 0x1234567 + N))  # s = s mod n
    assert not ecdsa.verify(G, HELLO, MINUS_G_SIG)


def test_high_s_is_accepted_as_by_mbedtls():
    s = int.from_bytes(SAMPLE[32:], "big")
    assert ecdsa.verify(RFC_KEY, sha(b"sample"), SAMPLE[:32] + (N - s).to_bytes(32, "big"))


def test_tampering_fails():
    d = sha(b"sample")
    assert not ecdsa.verify(RFC_KEY, sha(b"test"), SAMPLE)
    assert not ecdsa.verify(RFC_KEY, d, TEST)
    assert not ecdsa.verify(RFC_KEY, d, SAMPLE[32:] + SAMPLE[:32])
    for bit in (0, 100, 255):
        assert not ecdsa.verify(RFC_KEY, flip(d, bit), SAMPLE)
    for bit in (7, 255, 256, 511):
        assert not ecdsa.verify(RFC_KEY, d, flip(SAMPLE, bit))
    assert not ecdsa.verify(G, d, SAMPLE)  # another key


def test_r_and_s_out_of_range_fail():
    d = sha(b"sample")
    r = int.from_bytes(SAMPLE[:32], "big")
    s = int.from_bytes(SAMPLE[32:], "big")
    for bad in (sig(0, s), sig(r, 0), sig(0, 0), sig(N, s), sig(r, N), sig(N + 1, s),
                sig(r, 2 ** 256 - 1), b"\xff" * 64):
        assert not ecdsa.verify(RFC_KEY, d, bad)


def test_signature_of_wrong_length_fails():
    d = sha(b"sample")
    for bad in (b"", SAMPLE[:63], SAMPLE + b"\0", b"\0" + SAMPLE):
        assert not ecdsa.verify(RFC_KEY, d, bad)


def test_malformed_key_or_digest_raises():
    d = sha(b"sample")
    assert raises(ecdsa.verify, RFC_KEY[:63], d, SAMPLE).startswith("key: ")
    assert raises(ecdsa.verify, RFC_KEY + b"\0", d, SAMPLE).startswith("key: ")
    assert raises(ecdsa.verify, flip(RFC_KEY, 511), d, SAMPLE) == "key: not a point of P-256"
    assert raises(ecdsa.verify, bytes(64), d, SAMPLE) == "key: not a point of P-256"
    assert raises(ecdsa.verify, b"\xff" * 64, d, SAMPLE) == "key: not a point of P-256"
    assert raises(ecdsa.verify, RFC_KEY, d[:31], SAMPLE).startswith("digest: ")
    assert raises(ecdsa.verify, RFC_KEY, d + b"\0", b"").startswith("digest: ")


def test_block_gives_the_signature_of_a_version_0_block():
    blk = b"\0\0\0\0" + SAMPLE
    assert ecdsa.BLOCK == 68
    assert ecdsa.block(blk) == SAMPLE
    assert ecdsa.block(memoryview(b"image" + blk)[5:]) == SAMPLE
    assert ecdsa.block(b"\1\0\0\0" + SAMPLE) is None
    assert ecdsa.block(b"\0\0\0\x80" + SAMPLE) is None
    assert ecdsa.block(blk[:67]) is None
    assert ecdsa.block(blk + b"\0") is None
