"""Signed updates, host side: tools/signing.py and update/ecdsa.py against espsecure 5.6.0
(its CLI, keys made at run time) and against cryptography on random keys and messages."""
import hashlib
import os
import stat
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from tools import BIN, ROOT
from update import ecdsa

sys.path.insert(0, os.path.join(ROOT, "tools"))
import signing  # noqa: E402

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DATA = bytes(range(256)) * 40 + b"an app image's tail"


def espsecure(*args):
    proc = subprocess.run([os.path.join(BIN, "espsecure"), *args], capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def test_espsecure_signature_verifies_with_ours_and_matches_sign(tmp_path):
    key, data, signed, pub = (str(tmp_path / n) for n in ("k.pem", "d.bin", "s.bin", "p.bin"))
    with open(data, "wb") as f:
        f.write(DATA)
    assert espsecure("generate-signing-key", "--version", "1", key)[0] == 0
    assert espsecure("sign-data", "--version", "1", "--keyfile", key, "--output", signed,
                     data)[0] == 0
    assert espsecure("extract-public-key", "--version", "1", "--keyfile", key, pub)[0] == 0
    with open(signed, "rb") as f:
        image = f.read()
    with open(pub, "rb") as f:
        raw = f.read()
    assert image[:-68] == DATA and len(image) == len(DATA) + ecdsa.BLOCK
    sig = ecdsa.block(image[-68:])
    assert ecdsa.verify(raw, hashlib.sha256(DATA).digest(), sig)
    changed = DATA[:100] + bytes([DATA[100] ^ 1]) + DATA[101:]
    assert not ecdsa.verify(raw, hashlib.sha256(changed).digest(), sig)
    assert signing.public_key(key) == raw
    assert signing.sign(DATA, key) == image[-68:]  # both sign with RFC 6979 nonces


def test_our_block_verifies_with_espsecure(tmp_path):
    key, signed, pub = (str(tmp_path / n) for n in ("k.pem", "s.bin", "p.bin"))
    signing.make_key(key)
    with open(key, "rb") as f:
        made = serialization.load_pem_private_key(f.read(), None)
    assert isinstance(made, ec.EllipticCurvePrivateKey) and made.curve.name == "secp256r1"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    block = signing.sign(DATA, key)
    assert len(block) == 68 and block[:4] == b"\0\0\0\0"
    with open(signed, "wb") as f:
        f.write(DATA + block)
    with open(pub, "wb") as f:
        f.write(signing.public_key(key))  # espsecure reads a 64-byte file as raw X || Y
    rc, out = espsecure("verify-signature", "--version", "1", "--keyfile", pub, signed)
    assert rc == 0 and "Signature is valid" in out, out
    with open(signed, "r+b") as f:
        f.write(b"X")
    rc, out = espsecure("verify-signature", "--version", "1", "--keyfile", key, signed)
    assert rc != 0 and "Signature is not valid" in out, out


def test_make_key_never_overwrites_and_sign_takes_only_p256(tmp_path):
    key = str(tmp_path / "k.pem")
    signing.make_key(key)
    with open(key, "rb") as f:
        before = f.read()
    with pytest.raises(FileExistsError):
        signing.make_key(key)
    with open(key, "rb") as f:
        assert f.read() == before
    other = str(tmp_path / "p384.pem")
    assert espsecure("generate-signing-key", "--version", "2", "--scheme", "ecdsa384",
                     other)[0] == 0
    with pytest.raises(ValueError, match="not a P-256 private key"):
        signing.sign(DATA, other)


def raw(private):
    numbers = private.public_key().public_numbers()
    return numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def flip(b, bit):
    out = bytearray(b)
    out[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(out)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, N - 1), st.binary(max_size=300), st.integers(0, 511),
       st.integers(0, 255))
def test_random_keys_and_messages_verify_and_one_bit_off_fails(d, msg, sig_bit, digest_bit):
    private = ec.derive_private_key(d, ec.SECP256R1())
    r, s = utils.decode_dss_signature(private.sign(msg, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    key, digest = raw(private), hashlib.sha256(msg).digest()
    assert ecdsa.verify(key, digest, sig)
    assert not ecdsa.verify(key, digest, flip(sig, sig_bit))
    assert not ecdsa.verify(key, flip(digest, digest_bit), sig)
