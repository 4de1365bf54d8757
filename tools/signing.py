"""Signing of firmware images for ESP-IDF's signed apps (secure boot V1 scheme, ECDSA P-256),
as espsecure 5.6.0 does it, without running espsecure (tools/release.py imports this).

The block appended to an image is a u32 version word (0) and r || s, 32 bytes big-endian
each, over SHA-256 of the image; the key the app embeds is X || Y, big-endian
(espsecure/__init__.py: sign_secure_boot_v1, extract_public_key). espsecure signs with
RFC 6979 nonces, so sign() gives the very bytes `espsecure sign-data --version 1` appends.
Keys are made at run time or kept outside the repository; none is ever committed."""
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils


def make_key(path):
    """Write a new P-256 private key to path as `espsecure generate-signing-key --version 1`
    does (PEM, "EC PRIVATE KEY"), readable by its owner only; an existing file is never
    overwritten (FileExistsError): a release key lost is every device's updates lost."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _load(key_path):
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("%s: not a P-256 private key (the V1 scheme takes no other)" % key_path)
    return key


def sign(data, key_path):
    """The 68-byte signature block of data (to append to it), as espsecure's."""
    der = _load(key_path).sign(bytes(data), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = utils.decode_dss_signature(der)
    return struct.pack("<I", 0) + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def write_public_pem(key_path, path):
    """The public half of the key at key_path as a PEM file: what make firmware's
    UPDATE_KEY and tools/sim.py --update-key take, and what may leave the signing machine."""
    pem = _load(key_path).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(path, "wb") as f:
        f.write(pem)


def public_key(key_path):
    """The 64-byte X || Y the app embeds, as `espsecure extract-public-key --version 1`."""
    numbers = _load(key_path).public_key().public_numbers()
    return numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
