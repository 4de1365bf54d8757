"""tools/appimage.py against esptool, Espressif's own image tool: what it builds and stamps
esptool parses with a valid checksum, a valid appended SHA-256 and our descriptor. Then
hypothesis against update/image: any bytes, random or a mutated image, give a result or
a ValueError, never another exception, and an image the walker accepts esptool accepts."""
import hashlib
import os
import subprocess
import sys

import pytest
from esptool.bin_image import LoadFirmwareImage
from hypothesis import given, settings
from hypothesis import strategies as st

import mutation
from tools import BIN, ROOT
from update import image

sys.path.insert(0, os.path.join(ROOT, "tools"))
import appimage  # noqa: E402

BOARD = "wt32-eth01"
SIG = bytes(range(1, image.SIG_LEN + 1))
SEGMENTS = {
    "descriptor only": ((appimage.DROM, b""),),
    "three": ((appimage.DROM, b"\x01" * 100), (0x3FFB0000, bytes(range(256)) * 4),
              (0x40080000, b"\xa5" * 3000)),
    "unaligned, empty": ((appimage.DROM, b"abc"), (0x3FFB0000, b""), (0x40080000, b"12345")),
}


def _esptool(img, tmp_path):
    """esptool's parse of img (its checks) and its image-info text."""
    path = tmp_path / "app.bin"
    path.write_bytes(img)
    info = subprocess.run([os.path.join(BIN, "esptool"), "--chip", "esp32", "image-info",
                           str(path)], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stdout + info.stderr
    return LoadFirmwareImage("esp32", img), info.stdout


@pytest.mark.parametrize("hashed", (True, False))
@pytest.mark.parametrize("name", sorted(SEGMENTS))
def test_esptool_accepts_built_images(name, hashed, tmp_path):
    img = appimage.build("1.4.0", 3, BOARD, SEGMENTS[name], hashed=hashed)
    e, info = _esptool(img, tmp_path)
    assert e.checksum == e.calculate_checksum()
    assert e.chip_id == 0 and len(e.segments) == len(SEGMENTS[name])
    assert e.append_digest == hashed
    if hashed:
        assert e.stored_digest == e.calc_digest and e.data_length + 32 == len(img)
        assert "Validation hash: %s (valid)" % e.calc_digest.hex() in info
    assert "(valid)" in info.split("Checksum:")[1].splitlines()[0]
    for line in ("Project name: " + BOARD, "App version: 1.4.0", "Secure version: 3",
                 "ESP-IDF: " + appimage.IDF_VER, "Chip ID: 0 (ESP32)"):
        assert line in info, line
    w = image.Walker()
    w.feed(memoryview(img + SIG))
    assert w.verify() == hashlib.sha256(img).digest() and w.image_len == len(img)


def test_stamp_rewrites_the_descriptor_and_seals_again(tmp_path):
    img = appimage.build("1.4.0", 3, BOARD, SEGMENTS["three"])
    out = appimage.stamp(img, version="2.0.1", secure_version=7, board="olimex-esp32-poe")
    e, info = _esptool(out, tmp_path)
    assert e.checksum == e.calculate_checksum() and e.stored_digest == e.calc_digest
    assert "App version: 2.0.1" in info and "Secure version: 7" in info
    d = image.describe(out)
    assert (d.version, d.secure_version, d.board) == ("2.0.1", 7, "olimex-esp32-poe")
    fields = set(range(image.VERSION_AT, image.VERSION_AT + 32))
    fields |= set(range(image.DESC_AT + 4, image.DESC_AT + 8))
    fields |= set(range(image.NAME_AT, image.NAME_AT + 32))
    fields |= set(range(len(img) - 33, len(img)))  # checksum and appended hash
    assert len(out) == len(img)
    assert {i for i in range(len(img)) if img[i] != out[i]} <= fields
    assert appimage.stamp(out, version="1.4.0", secure_version=3, board=BOARD) == img
    assert appimage.stamp(img) == img
    with pytest.raises(ValueError, match="^length"):
        appimage.stamp(img + SIG, version="2.0.1")  # signed already
    with pytest.raises(ValueError, match="^version"):
        appimage.stamp(img, version="v" * 32)


def test_stamp_command_line(tmp_path):
    src = tmp_path / "idf.bin"
    src.write_bytes(appimage.build("0.0.0", 0, "project", SEGMENTS["three"]))
    dst = tmp_path / "stamped.bin"
    tool = os.path.join(ROOT, "tools", "appimage.py")
    proc = subprocess.run([sys.executable, tool, "stamp", str(src), str(dst), "--version",
                           "1.5.0", "--secure-version", "4", "--board", BOARD],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "version 1.5.0, secure version 4, board " + BOARD in proc.stdout
    assert dst.read_bytes() == appimage.build("1.5.0", 4, BOARD, SEGMENTS["three"])
    src.write_bytes(b"\xe9" + bytes(400))
    proc = subprocess.run([sys.executable, tool, "stamp", str(src), str(dst)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("appimage: %s: segments" % src)


# Fuzz: small images, so that a mutation often lands in a header, the padding or the end.
VALID = [appimage.build("1.4.0", 3, BOARD, SEGMENTS[n], hashed=h) + SIG
         for n in ("descriptor only", "unaligned, empty") for h in (True, False)]
EDITS = mutation.edits(500, 4)
CHUNKS = st.lists(st.integers(1, 600), min_size=1, max_size=8)


def _all(data, chunks):
    """describe, check and the walker on data: results or ValueError, nothing else. An
    image the walker accepts is one esptool accepts, its digest the image's SHA-256."""
    for fn, args in ((image.describe, (data,)),
                     (image.check, (data, BOARD, 0x1E0000, 0, len(data)))):
        try:
            fn(*args)
        except ValueError:
            pass
    w = image.Walker()
    mv = memoryview(data)
    at = k = 0
    try:
        while at < len(data):
            w.feed(mv[at:at + chunks[k % len(chunks)]])
            at += chunks[k % len(chunks)]
            k += 1
        digest = w.verify()
    except ValueError:
        return False
    body = data[:w.image_len]
    assert len(data) == w.image_len + image.SIG_LEN and digest == hashlib.sha256(body).digest()
    e = LoadFirmwareImage("esp32", body)
    assert e.checksum == e.calculate_checksum()
    assert not e.append_digest or e.stored_digest == e.calc_digest
    return True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700), CHUNKS)
def test_random_bytes_give_a_verdict_or_a_value_error(data, chunks):
    _all(data, chunks)
    _all(VALID[0][:image.HEADER_LEN] + data, chunks)  # past a valid header


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(VALID), EDITS, CHUNKS)
def test_mutated_images_give_a_verdict_or_a_value_error(data, edits, chunks):
    _all(mutation.mutate(data, edits), chunks)


def test_valid_images_pass_the_fuzz_harness():
    assert all(_all(v, [n]) for v in VALID for n in (1, 7, 600))
