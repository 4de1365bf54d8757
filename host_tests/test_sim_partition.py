"""The sim's flash: boards/sim/partition.py (esp32.Partition's stand-in, run on the unix
port in a flash directory) and tools/simboot.py (the bootloader) through one update,
a rollback and power losses."""
import csv
import hashlib
import importlib.util
import os
import random
import signal
import struct
import subprocess
import sys
import time

from tools import MICROPYTHON, ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))

import simboot  # noqa: E402
from update import otadata  # noqa: E402

MICROPYPATH = os.pathsep.join([os.path.join(ROOT, "boards", "sim"),
                               os.path.join(ROOT, "firmware", "lib")])
IMAGE = 64 * 1024  # bytes of an image's body: 17 blocks with its head and digest
# An update as the firmware makes it: confirm the running image, write the other slot
# block by block (each erased first), then select it. One line per step, for the kills.
PRELUDE = "from partition import Partition\n"
WRITER = """
Partition.mark_app_valid_cancel_rollback()
print("valid")
p = Partition(Partition.RUNNING).get_next_update()
with open(%r, "rb") as f:
    img = f.read()
for i in range((len(img) + 4095) // 4096):
    b = img[i * 4096:(i + 1) * 4096]
    p.writeblocks(i, b + b"\\xff" * (4096 - len(b)))
    print("block", i)
p.set_boot()
print("done")
"""


def micropython(flash, code, slot=None):
    """Runs code on the unix port in flash, as the sim runs the firmware; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "SC_BOOT_SLOT"}
    env["MICROPYPATH"] = MICROPYPATH
    if slot is not None:
        env["SC_BOOT_SLOT"] = str(slot)
    proc = subprocess.run([MICROPYTHON, "-c", PRELUDE + code],
                          cwd=flash, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split("\n")[:-1]


def image(n):
    """A test image: magic, body length, a body of its own, SHA-256 of all that."""
    body = random.Random(n).randbytes(IMAGE)
    data = b"\xe9\x00\x00\x00" + struct.pack("<I", len(body)) + body
    return data + hashlib.sha256(data).digest()


def complete(flash, slot):
    """Whether a slot holds a whole test image."""
    with open(os.path.join(flash, "ota_%d.bin" % slot), "rb") as f:
        d = f.read(8 + IMAGE + 32)
    return d[0] == 0xE9 and hashlib.sha256(d[:8 + IMAGE]).digest() == d[8 + IMAGE:]


def entries(flash):
    with open(os.path.join(flash, "otadata.bin"), "rb") as f:
        od = f.read()
    return od[:32], od[otadata.SECTOR:otadata.SECTOR + 32]


def test_constants_match_the_partition_table():
    spec = importlib.util.spec_from_file_location(
        "sim_partition", os.path.join(ROOT, "boards", "sim", "partition.py"))
    part = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(part)
    with open(simboot.CSV) as f:
        rows = {r[0].strip(): [c.strip() for c in r[1:5]] for r in csv.reader(
            line for line in f if line.strip() and not line.startswith("#"))}
    types, subtypes = {"app": 0, "data": 1}, {"ota": 0x00, "ota_0": 0x10, "ota_1": 0x11}
    kept = {label: (types[t], subtypes[s], int(o, 0), int(n, 0))
            for label, (t, s, o, n) in rows.items() if s in subtypes}
    assert {r[0]: r[1:] for r in part.TABLE} == kept == simboot.table()
    assert part.SLOTS == simboot.slots(kept) == 2
    assert int(rows["ota_0"][3], 0) == 0x1E0000 and int(rows["vfs"][2], 0) == 0x3D0000
    ends = sorted((int(o, 0), int(o, 0) + int(n, 0)) for _, _, o, n in rows.values())
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:])) and ends[-1][1] == 0x400000


def test_flash_semantics(tmp_path):
    flash = str(tmp_path)
    out = micropython(flash, """
p = Partition("ota_1")
print(Partition.find()[0].info(), p.info(), len(Partition.find(Partition.TYPE_DATA)))
print(p.ioctl(4, 0), p.ioctl(5, 0), [x.info()[4] for x in Partition.find(label="ota_1")])
buf = bytearray(8)
p.readblocks(479, buf, 4088)
print(bytes(buf))
p.writeblocks(1, b"\\x0f" * 8192)              # erase 2 blocks, write
p.writeblocks(1, b"\\xf3\\xf3", 4094)          # no erase: old AND new
p.readblocks(1, buf, 4092)
print(bytes(buf))
p.ioctl(6, 2)                                   # erase the second block only
p.readblocks(1, buf, 4092)
print(bytes(buf))
for args in ((0, b"x" * 100), (479, b"x" * 8192), (479, b"xx", 4095), (480, b"x", 1)):
    try:
        p.writeblocks(*args)
    except OSError as e:
        print(e.args)
""")
    assert out == [
        "(0, 16, 65536, 1966080, 'ota_0', False) (0, 17, 2031616, 1966080, 'ota_1', False) 1",
        "480 4096 ['ota_1']",
        repr(b"\xff" * 8),
        repr(b"\x0f\x0f\x03\x03\x0f\x0f\x0f\x0f"),
        repr(b"\x0f\x0f\x03\x03\xff\xff\xff\xff"),
        "(-260, 'ESP_ERR_INVALID_SIZE')",  # a simple write erases whole 4 KB blocks only
        "(-260, 'ESP_ERR_INVALID_SIZE')",
        "(-260, 'ESP_ERR_INVALID_SIZE')",
        "(-258, 'ESP_ERR_INVALID_ARG')"]
    sizes = {n: os.path.getsize(os.path.join(flash, n)) for n in os.listdir(flash)}
    assert sizes == {"ota_0.bin": 0x1E0000, "ota_1.bin": 0x1E0000, "otadata.bin": 0x2000}
    with open(os.path.join(flash, "ota_1.bin"), "rb") as f:
        assert f.read(3 * 4096) == b"\xff" * 4096 + b"\x0f" * 4094 + b"\x03\x03" + b"\xff" * 4096
    stamps = {n: os.stat(os.path.join(flash, n)).st_mtime_ns for n in sizes}
    micropython(flash, "Partition('ota_1'); Partition('ota_0'); Partition('otadata')")
    assert stamps == {n: os.stat(os.path.join(flash, n)).st_mtime_ns for n in sizes}


def test_set_boot_is_what_simboot_boots_then_rollback_or_confirm(tmp_path):
    flash = str(tmp_path / "flash")
    src = tmp_path / "image.bin"
    src.write_bytes(image(1))
    simboot.fill(flash, image(0))
    assert simboot.boot(flash) == 0
    assert entries(flash) == (otadata.encode(1, otadata.VALID), b"\xff" * 32)
    out = micropython(flash, WRITER % str(src) + "print(Partition(Partition.BOOT).info()[4], "
                                    "Partition(Partition.RUNNING).info()[4])", slot=0)
    assert out[-2:] == ["done", "ota_1 ota_0"]
    assert simboot.boot(flash) == 1 and complete(flash, 1)
    s0, s1 = entries(flash)
    assert otadata.on_trial(s0, s1, 2, 1)
    assert simboot.boot(flash) == 0  # not confirmed: rolled back
    assert entries(flash)[1] == otadata.encode(2, otadata.ABORTED)
    micropython(flash, "Partition(Partition.RUNNING).get_next_update().set_boot()", slot=0)
    assert simboot.boot(flash) == 1
    micropython(flash, "Partition.mark_app_valid_cancel_rollback()", slot=1)
    assert simboot.boot(flash) == 1 and simboot.boot(flash) == 1
    assert entries(flash) == (otadata.encode(1, otadata.VALID), otadata.encode(2, otadata.VALID))
    # without SC_BOOT_SLOT, RUNNING is the slot otadata selects
    assert micropython(flash, "print(Partition(Partition.RUNNING).info()[4])") == ["ota_1"]


def test_set_boot_refuses_an_image_that_does_not_verify(tmp_path):
    flash = str(tmp_path)
    simboot.fill(flash, image(0))
    simboot.boot(flash)
    before = entries(flash)
    out = micropython(flash, """
import partition
p = Partition("ota_1")
for verify in (None, lambda q: q.info()[4] != "ota_1"):
    partition.VERIFY = verify
    try:
        p.set_boot()
    except OSError as e:
        print(e.args)
partition.VERIFY = lambda q: True
try:
    Partition("otadata").set_boot()
except OSError as e:
    print(e.args)
""")
    assert out == ["(-5379, 'ESP_ERR_OTA_VALIDATE_FAILED')"] * 2 + [
        "(-258, 'ESP_ERR_INVALID_ARG')"]
    assert entries(flash) == before
    micropython(flash, "import partition\npartition.VERIFY = lambda q: True\n"
                       "Partition('ota_1').set_boot()")
    assert entries(flash)[1] == otadata.encode(2, otadata.NEW)


def test_blank_otadata_has_nothing_to_mark_valid(tmp_path):
    out = micropython(str(tmp_path), """
try:
    Partition.mark_app_valid_cancel_rollback()
except OSError as e:
    print(e.args)
print(Partition(Partition.BOOT).info()[4], Partition(Partition.RUNNING).info()[4])
""")
    assert out == ["(1, 'ESP_FAIL')", "ota_0 ota_0"]


def test_power_loss_never_leaves_otadata_on_a_half_written_slot(tmp_path):
    """SIGKILL at random points of updates: every start boots a whole image, the one
    otadata selects (no fallback), and a finished update boots the new slot."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    flash = str(tmp_path / "flash")
    src = tmp_path / "image.bin"
    simboot.fill(flash, image(0))
    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    steps = 2 + (len(image(0)) + 4095) // 4096  # "valid", the blocks, "done"
    expect = None
    for n in range(1, 12):
        slot = simboot.boot(flash)
        s0, s1 = entries(flash)
        assert otadata.active(s0, s1, 2)[3] == slot and complete(flash, slot), seed
        assert expect in (None, slot), seed
        if n == 11:
            break
        src.write_bytes(image(n))
        env["SC_BOOT_SLOT"] = str(slot)
        proc = subprocess.Popen([MICROPYTHON, "-c", PRELUDE + WRITER % str(src)], cwd=flash,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cut = steps if n == 1 else rng.randrange(steps + 1)  # the first one finishes
        for _ in range(cut):
            proc.stdout.readline()
        if cut < steps:
            time.sleep(rng.uniform(0, 0.001))
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -signal.SIGKILL), (seed, err)
        expect = 1 - slot if proc.returncode == 0 else None
