"""Builds and stamps ESP32 application images in ESP-IDF's format (firmware/lib/update/
image.py describes it): the images of the update tests, and the release step that writes
version, secure version and board into an ESP-IDF-built image's descriptor before it is
signed. build() and stamp() also run on the MicroPython unix port, where the portable
tests build their images with them.

    python tools/appimage.py stamp IN OUT [--version V] [--secure-version N] [--board B]
"""
import hashlib
import struct
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../firmware/lib")

from update import image  # noqa: E402

# The descriptor's segment, mapped from flash: its data at file offset 0x20 sits at the
# same offset in its 64 KB MMU page as 0x3F400020, as the bootloader requires.
DROM = 0x3F400020
ENTRY = 0x40080400  # an IRAM address: images built here are parsed, not run
# Fixed build stamps, so that the same arguments give the same bytes.
TIME = "00:00:00"
DATE = "Jan  1 2026"
IDF_VER = "v5.4.1"
MAX_REV_FULL = 399  # ESP-IDF v5's default for the ESP32: chip revisions up to v3.99
_TIME_AT, _DATE_AT, _IDF_AT = 112, 128, 144


def _put_text(buf, at, size, text, name):
    """text, NUL-terminated, into buf[at:at + size]."""
    b = text.encode()
    if len(b) >= size:
        raise ValueError("%s: %d bytes, at most %d" % (name, len(b), size - 1))
    buf[at:at + size] = b + bytes(size - len(b))


def _put(buf, version, secure_version, board):
    """The fields of the descriptor in buf that are not None."""
    if version is not None:
        _put_text(buf, image.VERSION_AT, image.TEXT_LEN, version, "version")
    if secure_version is not None:
        struct.pack_into("<I", buf, image.DESC_AT + 4, secure_version)
    if board is not None:
        _put_text(buf, image.NAME_AT, image.TEXT_LEN, board, "board")


def _seal(img):
    """img cut after its last segment, then its padding, checksum and, if the header
    asks for it, the SHA-256 of all that."""
    s = 0xEF
    p = image.HEADER_LEN
    for k in range(img[1]):
        if p + image.SEGMENT_LEN > len(img):
            raise ValueError("length: segment %d's header is past the end" % k)
        n, = struct.unpack_from("<I", img, p + 4)
        p += image.SEGMENT_LEN
        if p + n > len(img):
            raise ValueError("length: segment %d ends past the end" % k)
        for b in img[p:p + n]:
            s ^= b
        p += n
    out = bytearray(img[:p])
    out += bytes((p | 15) - p)
    out.append(s)
    if img[23]:
        out += hashlib.sha256(out).digest()
    return bytes(out)


def build(version, secure_version, board, segments=((DROM, b""),), hashed=True,
          chip_id=image.CHIP_ESP32):
    """An image of segments ((load address, data), each padded to 4 bytes), the first
    one's data after the descriptor; a SHA-256 appended if hashed. No padding segments
    are inserted: segments meant to be mapped from flash need addresses that suit."""
    img = bytearray(image.HEAD_LEN)
    # magic, segments, DIO, 4 MB at 40 MHz, entry, WP pin unused, pin drive,
    # chip, min_chip_rev (legacy), min and max chip revision, reserved, hash_appended
    struct.pack_into("<BBBBIBBBBHBHHIB", img, 0, image.MAGIC, len(segments), 2, 0x20,
                     ENTRY, 0xEE, 0, 0, 0, chip_id, 0, 0, MAX_REV_FULL, 0, int(hashed))
    struct.pack_into("<I", img, image.DESC_AT, image.DESC_MAGIC)
    _put(img, version, secure_version, board)
    _put_text(img, _TIME_AT, 16, TIME, "time")
    _put_text(img, _DATE_AT, 16, DATE, "date")
    _put_text(img, _IDF_AT, 32, IDF_VER, "idf_ver")
    for k, (addr, data) in enumerate(segments):
        data = bytes(data) + bytes(-len(data) % 4)
        if k:
            img += struct.pack("<II", addr, len(data))
        else:  # its header is already there, before the descriptor
            struct.pack_into("<II", img, image.HEADER_LEN, addr, image.DESC_LEN + len(data))
        img += data
    return _seal(img)


def stamp(img, version=None, secure_version=None, board=None):
    """img (an unsigned image: it ends with its checksum or appended SHA-256) with these
    descriptor fields rewritten, its checksum and appended SHA-256 made anew."""
    image.describe(img)
    out = bytearray(img)
    _put(out, version, secure_version, board)
    out = _seal(out)
    if len(out) != len(img):
        raise ValueError("length: %d bytes, the image is %d: stamp it before signing"
                         % (len(img), len(out)))
    return out


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("stamp", help="rewrite an image's version, secure version, board")
    st.add_argument("input")
    st.add_argument("output")
    st.add_argument("--version")
    st.add_argument("--secure-version", type=int)
    st.add_argument("--board")
    a = ap.parse_args(argv)
    with open(a.input, "rb") as f:
        img = f.read()
    try:
        out = stamp(img, a.version, a.secure_version, a.board)
    except ValueError as e:
        sys.exit("appimage: %s: %s" % (a.input, e))
    with open(a.output, "wb") as f:
        f.write(out)
    d = image.describe(out)
    print("%s: version %s, secure version %d, board %s"
          % (a.output, d.version, d.secure_version, d.board))


if __name__ == "__main__":
    main()
