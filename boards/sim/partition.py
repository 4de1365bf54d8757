"""The sim board's esp32.Partition (MicroPython 1.28's API): the two app slots and otadata
as files in the flash directory, which is the sim's current directory: ota_0.bin,
ota_1.bin, otadata.bin. Each file is created erased when absent.

They behave like NOR flash, so that a writer that forgets to erase fails here as on the
device. An erase sets a 4 KB block to 0xFF, and a write can only clear bits (old AND new).
writeblocks(block, buf) erases len(buf) bytes first, which must be a multiple of 4 KB.
writeblocks(block, buf, offset) does not erase. Errors are OSError(-esp_err, name), the
way MicroPython reports an ESP-IDF error.

RUNNING is the slot tools/simboot.py booted, passed by tools/sim.py as the environment
variable SC_BOOT_SLOT. Without it, RUNNING is the slot otadata selects at the first look.
set_boot() refuses an image that does not verify: VERIFY(partition) -> bool, which the
firmware's wiring sets. While VERIFY is None, only the image magic 0xE9 is checked.
"""
import os

from update import otadata

BLOCK = 4096
# (label, type, subtype, offset, size), as in boards/esp32-common/partitions.csv
TABLE = (
    ("otadata", 1, 0x00, 0xD000, 0x2000),
    ("ota_0", 0, 0x10, 0x10000, 0x1E0000),
    ("ota_1", 0, 0x11, 0x1F0000, 0x1E0000),
)
SLOTS = 2
VERIFY = None

_CHUNK = 512  # bytes read or written at a time: little heap for the sim's gauge
_FF = b"\xff" * _CHUNK
_running = None  # ESP-IDF too keeps the running partition once found


def _esp_err(code, name):
    return OSError(-code, name)


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=BLOCK):
        if block_size != BLOCK:
            raise ValueError("block_size")  # the device also has smaller blocks, cached
        if id == Partition.BOOT:
            row = TABLE[1 + otadata.active(*_entries(), SLOTS)[3]]
        elif id == Partition.RUNNING:
            row = TABLE[1 + _running_slot()]
        elif isinstance(id, str):
            row = _row(id)
        else:
            raise ValueError("id")
        self._label, self._type, self._subtype, self._offset, self._size = row
        self._path = self._label + ".bin"
        try:
            os.stat(self._path)
        except OSError:
            with open(self._path, "wb") as f:
                for _ in range(self._size // _CHUNK):
                    f.write(_FF)

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=BLOCK):
        return [Partition(r[0], block_size) for r in TABLE if r[1] == type and
                subtype in (0xFF, r[2]) and label in (None, r[0])]

    def info(self):
        return self._type, self._subtype, self._offset, self._size, self._label, False

    def readblocks(self, block, buf, offset=0):
        pos = block * BLOCK + offset
        self._check(pos, len(buf))
        with open(self._path, "rb") as f:
            f.seek(pos)
            f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        pos = block * BLOCK
        if offset is None:
            self._erase(pos, len(buf))
        else:
            pos += offset
        self._check(pos, len(buf))
        buf = memoryview(buf)
        with open(self._path, "r+b") as f:
            for at in range(0, len(buf), _CHUNK):
                new = buf[at:at + _CHUNK]
                f.seek(pos + at)
                old = f.read(len(new))
                f.seek(pos + at)
                f.write((int.from_bytes(old, "little") &
                         int.from_bytes(new, "little")).to_bytes(len(new), "little"))

    def ioctl(self, op, arg):
        if op in (1, 2, 3):  # init, deinit, sync
            return 0
        if op == 4:
            return self._size // BLOCK
        if op == 5:
            return BLOCK
        if op == 6:
            self._erase(arg * BLOCK, BLOCK)
            return 0
        return None

    def set_boot(self):
        """esp_ota_set_boot_partition: the image verifies, then otadata selects it."""
        if not (VERIFY(self) if VERIFY else self._magic()):
            raise _esp_err(0x1503, "ESP_ERR_OTA_VALIDATE_FAILED")
        if self._type != Partition.TYPE_APP:
            raise _esp_err(0x102, "ESP_ERR_INVALID_ARG")
        _apply(otadata.set_boot(*_entries(), SLOTS, self._subtype - 0x10))

    def get_next_update(self):
        """esp_ota_get_next_update_partition: the slot after this one, else ota_0."""
        slot = self._subtype - 0x10 + 1 if self._type == Partition.TYPE_APP else 0
        return Partition(TABLE[1 + slot % SLOTS][0])

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        try:
            writes = otadata.mark_valid(*_entries())
        except ValueError:
            raise _esp_err(-1, "ESP_FAIL") from None
        _apply(writes)

    def _magic(self):
        b = bytearray(1)
        self.readblocks(0, b)
        return b[0] == 0xE9

    def _check(self, pos, n):
        """esp_partition_read and _write's bounds."""
        if pos > self._size:
            raise _esp_err(0x102, "ESP_ERR_INVALID_ARG")
        if n > self._size - pos:
            raise _esp_err(0x104, "ESP_ERR_INVALID_SIZE")

    def _erase(self, pos, n):
        """esp_partition_erase_range: whole 4 KB blocks only."""
        self._check(pos, n)
        if n % BLOCK:
            raise _esp_err(0x104, "ESP_ERR_INVALID_SIZE")
        if pos % BLOCK:
            raise _esp_err(0x102, "ESP_ERR_INVALID_ARG")
        with open(self._path, "r+b") as f:
            f.seek(pos)
            for _ in range(n // _CHUNK):
                f.write(_FF)


def verifier(key):
    """A VERIFY that checks an image as ESP-IDF's esp_image_verify does for a signed app
    (V1 scheme): read back from the slot, walked (segments, checksum, appended SHA-256)
    and its signature block checked against key, the 64-byte raw public key the running
    image trusts."""
    from update import ecdsa, image

    def verify(p):
        w = image.Walker()
        buf = memoryview(bytearray(_CHUNK))  # the device checks in C, from no Python heap
        at = 0
        try:
            while w.want():
                n = min(w.want(), _CHUNK, BLOCK - at % BLOCK)
                p.readblocks(at // BLOCK, buf[:n], at % BLOCK)
                w.feed(buf[:n])
                at += n
            return ecdsa.verify(key, w.verify(), w.signature[4:])
        except (ValueError, OSError):
            return False

    return verify


def _row(label):
    for r in TABLE:
        if r[0] == label:
            return r
    raise OSError(2)  # ENOENT, as MicroPython answers a partition the table lacks


def _entries():
    """The first 32 bytes of both otadata sectors."""
    od = Partition("otadata")
    s0, s1 = bytearray(otadata.ENTRY), bytearray(otadata.ENTRY)
    od.readblocks(0, s0)
    od.readblocks(1, s1)
    return s0, s1


def _apply(writes):
    """Each write as ESP-IDF makes it: erase the sector, then write the entry."""
    od = Partition("otadata")
    for sector, entry in writes:
        od.ioctl(6, sector)
        od.writeblocks(sector, entry, 0)


def _running_slot():
    global _running
    if _running is None:
        env = os.getenv("SC_BOOT_SLOT")
        _running = int(env) if env else otadata.active(*_entries(), SLOTS)[3]
    return _running
