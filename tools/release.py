"""Signs an update image (docs/update.md, "The image"): version, secure version and board
stamped into the app descriptor (tools/appimage.py), then the V1 signature block appended
(tools/signing.py, as `espsecure sign-data --version 1`).

    python tools/release.py --board BOARD --version V --key KEY.pem [--security-version N]
        [--source DIR] [--trust PUB.pem] [--app FILE] --out FILE

An ESP32 board's image is the app ESP-IDF built (build/firmware-BOARD/micropython.bin
from `make firmware BOARD=...`, or --app FILE); the key it trusts was compiled into it.
The sim board's image is made here: its first segment carries the module tree of --source
(a project checkout, by default this one) and the public key the new image will trust for
the update after it (--trust: a PEM public key or espsecure's 64-byte raw key; by default
the public half of --key), tools/simimage.py.

The private key is read from its path, never copied, and refused inside the repository
but for the git-ignored development key of the sim (dev_key(): .dev-keys/update-key.pem).
"""
import argparse
import collections
import hashlib
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "firmware", "lib")]

import appimage  # noqa: E402
import signing  # noqa: E402
import simimage  # noqa: E402
from update import image  # noqa: E402

DEV_KEYS = os.path.join(ROOT, ".dev-keys")
SIM = simimage.BOARD

Released = collections.namedtuple("Released", "path board version secure_version size sha256")


def boards(root=ROOT):
    """The board names: folders under boards/ with a board.py (esp32-common is shared)."""
    top = os.path.join(root, "boards")
    return sorted(n for n in os.listdir(top)
                  if n != "esp32-common" and os.path.isfile(os.path.join(top, n, "board.py")))


def dev_key():
    """The path of the sim's development key, made on first use (git-ignored, owner only)."""
    os.makedirs(DEV_KEYS, mode=0o700, exist_ok=True)
    path = os.path.join(DEV_KEYS, "update-key.pem")
    try:
        signing.make_key(path)
    except FileExistsError:
        pass
    return path


def _inside(path, folder):
    folder = os.path.realpath(folder)
    return os.path.commonpath([os.path.realpath(path), folder]) == folder


def _check_key(key, roots):
    """By path (links followed): a key in a repository is refused, even one not there yet."""
    for root in roots:
        if _inside(key, root) and not _inside(key, os.path.join(root, ".dev-keys")):
            raise ValueError("key: %s is inside the repository %s: a private key never "
                             "enters the repository (keep it outside; the sim's development "
                             "key lives in the git-ignored .dev-keys/)" % (key, root))
    if not os.path.isfile(key):
        raise ValueError("key: no file %s" % key)


def trust_key(path):
    """The raw 64-byte X || Y of a P-256 public key file (PEM, or espsecure's raw key)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        if len(data) == simimage.KEY_LEN:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + data)
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("trust: %s is not a P-256 public key" % path)
    n = key.public_numbers()
    return n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")


def release(board, version, key, out, secure_version=0, source=None, trust=None, app=None):
    """Writes the signed update image of board to out; its Released. ValueError when
    something is refused (the message names what)."""
    known = boards()
    if board not in known:
        raise ValueError("board: no board %r (known: %s)" % (board, ", ".join(known)))
    if not version or len(version.encode()) >= image.TEXT_LEN:
        raise ValueError("version: %r, the descriptor holds 1 to %d bytes"
                         % (version, image.TEXT_LEN - 1))
    if not 0 <= secure_version <= 0xFFFFFFFF:
        raise ValueError("security version: %d, not a 32-bit unsigned number" % secure_version)
    _check_key(key, {ROOT, source or ROOT})
    if os.path.exists(out) and os.path.samefile(out, key):
        raise ValueError("out: %s is the key" % out)
    if board == SIM:
        if app is not None:
            raise ValueError("app: the sim's image is made from --source, not --app")
        raw = trust_key(trust) if trust else signing.public_key(key)
        payload = simimage.pack(source or ROOT, raw)
        img = appimage.build(version, secure_version, board, ((appimage.DROM, payload),))
    else:
        if source is not None or trust is not None:
            raise ValueError("%s: --source and --trust are for the sim; an ESP32 image trusts "
                             "the key it was built with (make firmware UPDATE_KEY=PUB.pem)"
                             % board)
        if app is None:
            app = os.path.join(ROOT, "build", "firmware-" + board, "micropython.bin")
            if not os.path.isfile(app):
                raise ValueError("app: no %s: run `make firmware BOARD=%s` first (or give "
                                 "--app FILE)" % (os.path.relpath(app, ROOT), board))
        if not os.path.isfile(app):
            raise ValueError("app: no file %s" % app)
        with open(app, "rb") as f:
            img = f.read()
        try:
            if image.describe(img).chip_id != image.CHIP_ESP32:
                raise ValueError("chip: not an ESP32 image")
            img = appimage.stamp(img, version, secure_version, board)
        except ValueError as e:
            raise ValueError("app: %s: %s" % (app, e)) from None
    signed = bytes(img) + signing.sign(img, key)
    walker = image.Walker()  # what the device will check, checked here first
    walker.feed(memoryview(signed))
    if walker.verify() != hashlib.sha256(img).digest() or walker.image_len != len(img):
        raise ValueError("image: the walker does not end where the image does")
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(signed)
    os.replace(tmp, out)
    return Released(out, board, version, secure_version, len(signed),
                    hashlib.sha256(signed).hexdigest())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--key", required=True, help="the private key (PEM), outside the repository")
    ap.add_argument("--security-version", type=int, default=0)
    ap.add_argument("--source", help="sim: the project checkout to carry (default: this one)")
    ap.add_argument("--trust", help="sim: the public key the new image trusts (default: --key's)")
    ap.add_argument("--app", help="ESP32: the app image ESP-IDF built "
                                  "(default build/firmware-BOARD/micropython.bin)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    try:
        r = release(a.board, a.version, a.key, a.out, a.security_version, a.source, a.trust,
                    a.app)
    except (ValueError, OSError) as e:
        sys.exit("release: %s" % e)
    print("%s: board %s, version %s, secure version %d, %d bytes, sha256 %s"
          % (r.path, r.board, r.version, r.secure_version, r.size, r.sha256))


if __name__ == "__main__":
    main()
