"""ESP-IDF app images (update/image): what check() refuses before anything is erased, and
the walker's verdict on an image streamed in chunks of any size. The images come from
tools/appimage.py, which runs here too; host_tests/test_appimage.py holds it to esptool."""
import hashlib
import struct
import sys

from support import ROOT

sys.path.append(ROOT + "/tools")
import appimage  # noqa: E402
from update import image  # noqa: E402

BOARD = "wt32-eth01"
SLOT = 0x1E0000  # a 1.875 MB OTA slot
SIG = bytes(range(1, image.SIG_LEN + 1))


def _data(n, seed):
    return bytes((i * 7 + seed) & 255 for i in range(n))


def _img(hashed=True, chip_id=image.CHIP_ESP32, version="1.4.0", secure=3, board=BOARD):
    """Three segments; the last one's data ends at 4412, 3 bytes of padding before the
    checksum at 4415."""
    return appimage.build(version, secure, board,
                          ((appimage.DROM, _data(100, 1)), (0x3FFB0000, _data(1000, 2)),
                           (0x40080000, _data(3008, 3))), hashed=hashed, chip_id=chip_id)


def _small():
    """Few bytes, with an empty segment in the middle and one at the end."""
    return appimage.build("0.1", 0, BOARD, ((appimage.DROM, b"ab"), (0x3FFB0000, b""),
                                            (0x40080000, b"wxyz"), (0x40080100, b"")))


def _refusal(fn, *args):
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    raise AssertionError("accepted")


def _patched(img, at, value):
    b = bytearray(img)
    b[at] = value
    return bytes(b)


def _u32(img, at, value):
    b = bytearray(img)
    struct.pack_into("<I", b, at, value)
    return bytes(b)


def _walk(data, size):
    """The walker's digest after data came in chunks of size bytes."""
    w = image.Walker()
    mv = memoryview(data)
    for i in range(0, len(data), size):
        w.feed(mv[i:i + size])
    return w, w.verify()


def test_describe_reads_the_descriptor_from_the_head():
    img = _img()
    d = image.describe(img[:image.HEAD_LEN])
    assert (d.version, d.secure_version, d.board, d.chip_id) == ("1.4.0", 3, BOARD, 0)
    assert image.describe(memoryview(img)).board == BOARD


def test_describe_names_each_bad_field():
    img = _img()
    bad = (
        (img[:image.HEAD_LEN - 1], "length"),
        (_patched(img, 0, 0xE8), "magic"),
        (_patched(img, 1, 0), "segments"),
        (_patched(img, 1, image.MAX_SEGMENTS + 1), "segments"),
        (_patched(img, 23, 2), "header"),
        (_u32(img, image.HEADER_LEN + 4, image.DESC_LEN - 4), "descriptor: first segment"),
        (_u32(img, image.DESC_AT, 0xABCD5433), "descriptor: magic"),
        (img[:image.VERSION_AT] + b"v" * 32 + img[image.VERSION_AT + 32:],
         "descriptor: version has no NUL"),
        (_patched(img, image.NAME_AT, 0xFF), "descriptor: project_name is not UTF-8"),
    )
    for head, want in bad:
        got = _refusal(image.describe, head)
        assert got.startswith(want), (want, got)


def test_check_passes_an_image_for_this_device():
    img = _img()
    d = image.check(img[:image.HEAD_LEN], BOARD, SLOT, 3, len(img) + image.SIG_LEN)
    assert (d.version, d.secure_version) == ("1.4.0", 3)
    assert image.check(img, BOARD, SLOT, 2, SLOT).secure_version == 3  # a newer one


def test_check_refuses_what_this_device_must_not_take():
    img = _img()
    total = len(img) + image.SIG_LEN
    tiny = appimage.build("0.1", 0, BOARD)  # the descriptor alone: the smallest image
    least = len(tiny) + image.SIG_LEN
    cases = (
        ((_patched(img, 0, 0), BOARD, SLOT, 3, total), "magic"),
        ((_u32(img, image.DESC_AT, 0), BOARD, SLOT, 3, total), "descriptor"),
        ((img, "olimex-esp32-poe", SLOT, 3, total),
         "board: image for wt32-eth01, this device is olimex-esp32-poe"),
        ((_img(chip_id=9), BOARD, SLOT, 3, total), "chip"),
        ((img, BOARD, total - 1, 3, total), "size"),
        ((img, BOARD, SLOT, 3, 300), "size"),
        ((tiny, BOARD, SLOT, 0, least - 1), "size: %d bytes, this image needs at least %d"
         % (least - 1, least)),
        ((img, BOARD, SLOT, 4, total), "security version: 3, the running firmware's is 4"),
    )
    for args, want in cases:
        got = _refusal(image.check, *args)
        assert got.startswith(want), (want, got)
    assert image.check(tiny, BOARD, SLOT, 0, least).board == BOARD


def test_walker_gives_the_signed_digest_whatever_the_chunks():
    for hashed in (True, False):
        img = _img(hashed=hashed)
        assert len(img) == len(_img(hashed=False)) + (32 if hashed else 0)
        for size in (1, 7, 64, 4096, len(img) + image.SIG_LEN):
            w, digest = _walk(img + SIG, size)
            assert digest == hashlib.sha256(img).digest(), (hashed, size)
            assert w.image_len == len(img)
            assert bytes(w.signature) == SIG


def test_walker_splits_anywhere_in_two():
    img = _small() + SIG
    want = hashlib.sha256(img[:-image.SIG_LEN]).digest()
    mv = memoryview(img)
    for at in range(len(img) + 1):
        w = image.Walker()
        w.feed(mv[:at])
        w.feed(mv[at:])
        assert w.verify() == want, at


def test_walker_refuses_a_damaged_image():
    img = _img()
    n = len(img)
    cases = (
        (_patched(img, n - 33, img[n - 33] ^ 1), "checksum"),  # the checksum byte
        (_patched(img, 400, img[400] ^ 0x10), "checksum"),  # segment data
        (_patched(img, n - 34, 1), "hash"),  # padding: only the hash covers it
        (_patched(img, n - 1, img[n - 1] ^ 1), "hash"),  # the appended hash
        (_patched(img, 5, img[5] ^ 1), "hash"),  # the entry address
        (_patched(img, 0, 0), "magic"),
        (_u32(img, image.DESC_AT + image.DESC_LEN + 100 + 4, 1001), "segments"),  # 2nd
        (_u32(img, image.HEADER_LEN + 4, 0x1000000), "segments"),
    )
    assert n == 4415 + 1 + 32 and img[n - 34] == 0
    for data, want in cases:
        for size in (1, 4096):
            got = _refusal(_walk, data + SIG, size)
            assert got.startswith(want), (want, size, got)


def test_walker_refuses_a_wrong_length():
    img = _img()
    cases = (
        (img[:1000], "length: 1000 bytes, the image ends before its last segment"),
        (img, "length: %d bytes, the image and its signature block are %d"
         % (len(img), len(img) + image.SIG_LEN)),
        (img + SIG[:-1], "length"),
        (img + SIG + b"\0", "length: data past the signature block"),
        (img[:-1] + SIG, "length"),
    )
    for data, want in cases:
        for size in (1, 7, 4096):
            got = _refusal(_walk, data, size)
            assert got.startswith(want), (want, size, got)
