"""The update engine (update/engine.py) on the sim's flash (boards/sim/partition.py: files
with NOR semantics, set_boot verifying the ECDSA V1 signature with the running image's
key as ESP-IDF does): a signed image is streamed into the other slot and made the boot
slot; every refusal names its check and changes nothing (running slot, otadata, the
other slot not bootable). Keys are made at run time."""
import os
import sys

import pytest

from tools import ROOT
from update import engine, image, otadata

sys.path[:0] = [os.path.join(ROOT, "tools"), os.path.join(ROOT, "boards", "sim")]
import appimage  # noqa: E402
import partition  # noqa: E402
import signing  # noqa: E402
import simboot  # noqa: E402

BOARD = "sim"
PAYLOAD = bytes(range(256)) * 40  # 10 KB: three flash sectors


def _image(key, version="1.1.0", secure=0, board=BOARD, payload=PAYLOAD):
    img = appimage.build(version, secure, board, ((appimage.DROM, payload),))
    return img + signing.sign(img, key)


@pytest.fixture
def flash(tmp_path, monkeypatch):
    """A device as make flash leaves it (version 1.0.0 in ota_0, trusting key), booted,
    with the sim's set_boot verifying signatures against the trusted key."""
    key = str(tmp_path / "key.pem")
    signing.make_key(key)
    d = tmp_path / "flash"
    simboot.fill(str(d), _image(key, "1.0.0"))
    simboot.boot(str(d))
    monkeypatch.chdir(d)
    monkeypatch.delenv("SC_BOOT_SLOT", raising=False)
    monkeypatch.setattr(partition, "_running", None)
    monkeypatch.setattr(partition, "VERIFY", partition.verifier(signing.public_key(key)))
    return d, key


def _snapshot(d):
    return {n: (d / n).read_bytes() for n in ("ota_0.bin", "otadata.bin")}


def _engine(secure=0):
    return engine.Engine(partition.Partition, BOARD, secure)


def _send(e, img, step=1000):
    """img streamed in pieces of step bytes, as a connection delivers them."""
    e.begin(len(img), False)
    at = 0
    while at < len(img):
        room = e.room()
        n = min(len(room), step, len(img) - at)
        room[:n] = img[at:at + n]
        e.took(n)
        at += n
    e.finish()


def _boot_slot(d):
    od = (d / "otadata.bin").read_bytes()
    return otadata.active(od[:otadata.SECTOR], od[otadata.SECTOR:], 2)[3]


def test_a_signed_image_is_written_to_the_other_slot_and_made_the_boot_slot(flash):
    d, key = flash
    img = _image(key)
    e = _engine()
    _send(e, img)
    assert e.state == engine.READY and e.version == "1.1.0" and e.got == len(img)
    assert (d / "ota_1.bin").read_bytes()[:len(img)] == img
    assert _boot_slot(d) == 1


def _refused(flash, img, check, secure=0, total=None):
    d, _ = flash
    before = _snapshot(d)
    e = _engine(secure)
    with pytest.raises(ValueError) as err:
        if total is None:
            _send(e, img)
        else:
            e.begin(total, False)
    assert str(err.value).startswith(check + ":"), err.value
    assert _snapshot(d) == before
    assert (d / "ota_1.bin").read_bytes()[0] != image.MAGIC
    assert _boot_slot(d) == 0
    return e


def test_another_keys_image_is_refused_by_set_boot(flash, tmp_path):
    other = str(tmp_path / "other.pem")
    signing.make_key(other)
    e = _refused(flash, _image(other), "signature")
    assert e.state == engine.FAILED and e.error.startswith("signature:")


def test_an_unsigned_image_is_refused(flash):
    img = appimage.build("1.1.0", 0, BOARD, ((appimage.DROM, PAYLOAD),))
    e = _refused(flash, img, "size")
    assert "signature block" in e.error


def test_a_changed_byte_anywhere_is_refused(flash):
    _, key = flash
    img = _image(key)
    for at in (5, image.DESC_AT + 200, len(img) // 2, len(img) - image.SIG_LEN - 40,
               len(img) - 10):
        bad = bytearray(img)
        bad[at] ^= 0x40
        d, _ = flash
        before = _snapshot(d)
        with pytest.raises(ValueError):
            _send(_engine(), bytes(bad))
        assert _snapshot(d) == before and _boot_slot(d) == 0
        assert (d / "ota_1.bin").read_bytes()[0] != image.MAGIC


def test_a_truncated_image_is_refused(flash):
    _, key = flash
    img = _image(key)
    e = _engine()
    e.begin(len(img), False)
    at = 0
    while at < 2000:
        room = e.room()
        n = min(len(room), 2000 - at)
        room[:n] = img[at:at + n]
        e.took(n)
        at += n
    with pytest.raises(ValueError) as err:
        e.finish()
    assert str(err.value).startswith("length:")


def test_another_boards_image_is_refused_before_anything_is_written(flash):
    _, key = flash
    _refused(flash, _image(key, board="wt32-eth01"), "board")


def test_an_image_larger_than_a_slot_is_refused_at_once(flash):
    _refused(flash, b"", "size", total=0x1E0000 + 1)


def test_a_lower_security_version_is_refused(flash):
    _, key = flash
    _refused(flash, _image(key, secure=1), "security version", secure=2)


def test_a_second_update_during_an_update_and_one_on_trial_are_refused(flash):
    d, key = flash
    e = _engine()
    e.begin(len(_image(key)), False)
    with pytest.raises(ValueError, match="^busy:"):
        e.begin(100000, False)
    with pytest.raises(ValueError, match="^trial:"):
        _engine().begin(100000, True)


def test_no_heap_for_set_boots_check_leaves_nothing_bootable_and_the_engine_free(
        flash, monkeypatch):
    """set_boot's check runs out of heap (MemoryError, a 96 KB device mid-upload): as
    after a refusal, the running slot stays the boot slot and the other slot is not
    bootable; the engine is not left verifying, so the next update may begin."""
    d, key = flash
    before = _snapshot(d)
    verify = partition.VERIFY

    def short(p):
        raise MemoryError("memory allocation failed, allocating 4096 bytes")

    monkeypatch.setattr(partition, "VERIFY", short)
    e = _engine()
    with pytest.raises(MemoryError):
        _send(e, _image(key))
    assert e.state == engine.FAILED and e.error.startswith("memory allocation failed")
    assert _snapshot(d) == before and _boot_slot(d) == 0
    assert (d / "ota_1.bin").read_bytes()[0] != image.MAGIC
    monkeypatch.setattr(partition, "VERIFY", verify)
    _send(e, _image(key))
    assert e.state == engine.READY and _boot_slot(d) == 1
