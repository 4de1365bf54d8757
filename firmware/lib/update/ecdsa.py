"""ECDSA P-256 verification of ESP-IDF's signed apps (secure boot V1 scheme, ECDSA).

The formats are espsecure's and ESP-IDF's: the public key as the app embeds it is X || Y,
the signature block after the image is a u32 version word (0) and r || s, every number 32
bytes big-endian (espsecure extract_public_key and sign_secure_boot_v1; IDF's
secure_boot_signatures_app.c reads them with mbedtls_mpi_read_binary). The digest is the
SHA-256 of the image before the block.

What comes with an update (the signature, its block) is untrusted: anything wrong with it
gives False or None, never an exception. The key and the digest are ours: a malformed one
is a bug and raises ValueError naming it, so it cannot pass for a bad download.

u1*G + u2*Q in one pass over the bits (Shamir's trick) in Jacobian coordinates, adding
affine points (G, Q, G+Q), and the result compared with r without an inversion: big ints
are slow on MicroPython and every operation allocates."""

BLOCK = 68  # the signature block's size: version word, r, s

# NIST P-256 (FIPS 186-4, D.1.2.3): y^2 = x^3 - 3x + b over GF(p), n the group order
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
_GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def block(data):
    """The signature (r || s) of a signature block, or None unless data is one of BLOCK
    bytes with version word 0 (an unsigned image ends in anything)."""
    if len(data) != BLOCK or data[0] | data[1] | data[2] | data[3]:
        return None
    return bytes(data[4:])


def verify(key, digest, sig):
    """True if sig (r || s) signs digest (32 bytes) for key (X || Y); False for any other
    sig; ValueError("key: ..." or "digest: ...") for a malformed key or digest."""
    p = _P
    if len(key) != 64:
        raise ValueError("key: %d bytes, not 64" % len(key))
    qx = int.from_bytes(key[:32], "big")
    qy = int.from_bytes(key[32:], "big")
    if qx >= p or qy >= p or (qy * qy - qx * qx * qx + 3 * qx - _B) % p:
        raise ValueError("key: not a point of P-256")
    if len(digest) != 32:
        raise ValueError("digest: %d bytes, not 32" % len(digest))
    if len(sig) != 64:
        return False
    n = _N
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if not (0 < r < n and 0 < s < n):
        return False
    w = pow(s, n - 2, n)  # s^-1 (Fermat: n is prime)
    u1 = int.from_bytes(digest, "big") * w % n
    u2 = r * w % n
    # G + Q made affine once (one inversion), so every add of the loop is a mixed one
    x, y, z = _add(_GX, _GY, 1, qx, qy)
    if z:
        zi = pow(z, p - 2, p)
        zi2 = zi * zi % p
        both = (x * zi2 % p, y * zi2 * zi % p)
    else:
        both = None  # Q = -G: adding it is adding nothing
    table = (None, (qx, qy), (_GX, _GY), both)
    x, y, z = 0, 1, 0  # the point at infinity
    a = u1.to_bytes(32, "big")
    b = u2.to_bytes(32, "big")
    for i in range(32):
        ai = a[i]
        bi = b[i]
        for j in range(7, -1, -1):
            x, y, z = _double(x, y, z)
            t = table[((ai >> j) & 1) << 1 | ((bi >> j) & 1)]
            if t:
                x, y, z = _add(x, y, z, t[0], t[1])
    if not z:
        return False
    # r == x/z^2 mod n, where x/z^2 < p < 2n: r*z^2 == x, or (r + n)*z^2 == x
    zz = z * z % p
    return (r * zz - x) % p == 0 or (r + n < p and ((r + n) * zz - x) % p == 0)


def _double(x, y, z):
    """2(x, y, z) for a = -3 (dbl-2001-b, z3 = 2yz); infinity (z = 0) stays infinity."""
    p = _P
    delta = z * z % p
    gamma = y * y % p
    beta = x * gamma % p
    alpha = 3 * (x - delta) * (x + delta) % p
    x3 = (alpha * alpha - (beta << 3)) % p
    y3 = (alpha * ((beta << 2) - x3) - (gamma * gamma << 3)) % p
    return x3, y3, (y * z << 1) % p


def _add(x, y, z, ax, ay):
    """(x, y, z) + (ax, ay), the second point affine and not infinity."""
    if not z:
        return ax, ay, 1
    p = _P
    zz = z * z % p
    h = (ax * zz - x) % p
    rr = (ay * zz * z - y) % p
    if not h:
        return _double(x, y, z) if not rr else (0, 1, 0)
    hh = h * h % p
    hhh = h * hh % p
    v = x * hh % p
    x3 = (rr * rr - hhh - (v << 1)) % p
    y3 = (rr * (v - x3) - y * hhh) % p
    return x3, y3, z * h % p
