"""The sim's bootloader, run by tools/sim.py before each start of the firmware: it reads
the flash directory's otadata.bin, applies ESP-IDF's bootloader rules
(firmware/lib/update/otadata.py), writes otadata back the way the bootloader does (erase
the sector, write the entry), and gives the slot to boot. sim.py passes that slot to the
firmware as SC_BOOT_SLOT (boards/sim/partition.py).

The files and their sizes come from boards/esp32-common/partitions.csv:
ota_0.bin, ota_1.bin and otadata.bin. A slot's image loads when its first byte is the
image magic 0xE9. The real bootloader also checks the segments, checksum and hash.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "firmware", "lib"))

from update import otadata  # noqa: E402

CSV = os.path.join(ROOT, "boards", "esp32-common", "partitions.csv")
MAGIC = 0xE9


def table():
    """{label: (type, subtype, offset, size)} of an ESP-IDF partition CSV, for the rows
    the sim keeps: the app slots (ota_N) and otadata."""
    rows = {}
    with open(CSV) as f:
        for line in f:
            cells = [c.strip() for c in line.split("#")[0].split(",")]
            if len(cells) < 5:
                continue
            label, kind, sub, offset, size = cells[:5]
            if sub == "ota":
                subtype = 0x00
            elif sub.startswith("ota_"):
                subtype = 0x10 + int(sub[4:])
            else:
                continue
            rows[label] = (0 if kind == "app" else 1, subtype, int(offset, 0), int(size, 0))
    return rows


def slots(rows):
    """How many app slots there are (ota_0, ota_1, ...)."""
    return sum(1 for r in rows.values() if r[0] == 0)


def fill(flash_dir, image):
    """A device as `make flash` leaves it: image in ota_0, the other slots and otadata
    erased. ESP-IDF then boots ota_0 and writes seq 1 into otadata."""
    os.makedirs(flash_dir, exist_ok=True)
    for label, (_, _, _, size) in table().items():
        data = image if label == "ota_0" else b""
        if len(data) > size:
            raise ValueError("image: %d bytes, slot %d" % (len(data), size))
        with open(os.path.join(flash_dir, label + ".bin"), "wb") as f:
            f.write(data + b"\xff" * (size - len(data)))


def boot(flash_dir, loads=None):
    """The slot the bootloader starts in flash_dir (made by fill()), once it has written
    otadata. loads(slot) -> bool
    says whether a slot's image loads (default: its magic byte). RuntimeError when none
    loads, where the device would reset and try again forever."""
    n = slots(table())
    od_path = os.path.join(flash_dir, "otadata.bin")
    with open(od_path, "rb") as f:
        od = f.read()
    slot, writes = otadata.boot(od[:otadata.SECTOR], od[otadata.SECTOR:], n,
                                loads or (lambda s: _magic(flash_dir, s)))
    if writes:
        with open(od_path, "r+b") as f:
            for sector, entry in writes:
                f.seek(sector * otadata.SECTOR)
                f.write(b"\xff" * otadata.SECTOR)
                f.seek(sector * otadata.SECTOR)
                f.write(entry)
    if slot is None:
        raise RuntimeError("no app image loads in " + flash_dir)
    return slot


def _magic(flash_dir, slot):
    try:
        with open(os.path.join(flash_dir, "ota_%d.bin" % slot), "rb") as f:
            return f.read(1) == bytes([MAGIC])
    except FileNotFoundError:
        return False
