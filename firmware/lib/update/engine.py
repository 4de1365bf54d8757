"""Writes a firmware update into the slot that is not running, as it streams in (an
HTTPS upload, an MQTT-commanded download): one 1 KB buffer taken at the start, written
into the flash as it fills (a 4 KB sector erased when its first piece comes), so neither
the heap nor the loop ever holds more.

Before anything is erased the image's first bytes are checked (update/image.check:
board, size, security version); the walker checks segments, checksum and the appended
hash as the bytes pass. The image's first 16 bytes (its magic among them) are written
last, over the erased bytes left for them: a slot cut short by a power loss never looks
like an image. Then set_boot(), which on the device verifies the ECDSA signature with
the key compiled into the running app (the sim's stand-in does the same), points the
bootloader at the slot.

One update at a time, and none while the running image is on trial: writing a slot
with writeblocks() bypasses ESP-IDF's own guard for that (esp_ota_begin), so the
caller passes whether the running image is on trial (update/otadata.on_trial)."""
from update import image

try:
    from micropython import const
except ImportError:
    const = int

BLOCK = const(4096)  # a flash sector: the unit of erase
# The image passes through one buffer of this size, written into its sector as it fills
# (a sector is erased when the first piece of it comes). A quarter sector: on the gauge a
# 96 KB heap that serves MQTT, the UI and Modbus clients had no contiguous 4 KB left.
CHUNK = const(1024)
_HEAD = const(16)  # written last
# What MicroPython raises for ESP-IDF's ESP_ERR_OTA_VALIDATE_FAILED: OSError(-code, name)
_VALIDATE_FAILED = const(-0x1503)

IDLE = "idle"
RECEIVING = "receiving"
VERIFYING = "verifying"
READY = "ready"  # set_boot done: the caller reboots
FAILED = "failed"


class Engine:
    def __init__(self, partition, board, running_secure_version):
        """partition: esp32.Partition or the sim's stand-in (the class); board: this
        board's name, as the image's descriptor must give it."""
        self._partition = partition
        self._board = board
        self._secure = running_secure_version
        self._buf = None  # the 1 KB buffer, taken for an update and let go after it
        self._head = bytearray(_HEAD)
        self._slot = None
        self._walker = None
        self.state = IDLE
        self.total = 0  # bytes announced
        self.got = 0  # bytes received
        self.version = None  # the incoming image's, once its head has been checked
        self.error = None  # why the last update failed

    def begin(self, total, on_trial):
        """Starts an update of total bytes (image and signature block); ValueError
        (refused, nothing changed) while another runs or the running image is on trial,
        or when the slot cannot hold it."""
        if self.busy():
            raise ValueError("busy: an update is already running or waits for its reboot")
        if on_trial:
            raise ValueError("trial: the running firmware is on trial; it must be marked "
                             "valid before the next update")
        slot = self._partition(self._partition.RUNNING).get_next_update()
        size = slot.ioctl(4, 0) * slot.ioctl(5, 0)
        if total > size:
            raise ValueError("size: %d bytes, the slot holds %d" % (total, size))
        if total < image.HEAD_LEN:
            raise ValueError("size: %d bytes is no image" % total)
        self._slot = slot
        self._size = size
        self._buf = bytearray(CHUNK)
        self._mv = memoryview(self._buf)
        self._fill = 0
        self._walker = image.Walker()
        self.total = total
        self.got = 0
        self.version = None
        self.error = None
        self.state = RECEIVING

    def busy(self):
        """An update is running, or verified and waiting for its reboot."""
        return self.state in (RECEIVING, VERIFYING, READY)

    def room(self):
        """Where the next bytes go (readinto it): the free part of the buffer, no more
        than the announced size leaves."""
        return self._mv[self._fill:min(CHUNK, self._fill + self.total - self.got)]

    def took(self, n):
        """n bytes were put into room(). ValueError ends the update (refused or broken;
        the slot is left unbootable, the running firmware untouched)."""
        try:
            self._took(n)
        except ValueError as e:
            self.fail(str(e))
            raise

    def _took(self, n):
        was = self.got
        self._fill += n
        self.got += n
        if was < image.HEAD_LEN <= self.got:  # still in the first piece
            d = image.check(self._mv[:self._fill], self._board, self._size, self._secure,
                            self.total)
            self.version = d.version
        if self._fill == CHUNK or self.got == self.total:
            self._write()

    def _write(self):
        """The piece just filled: walked and hashed as it is, written into its sector
        (erased first when the piece starts it), the image's first bytes held back."""
        at = self.got - self._fill
        n, offset = at // BLOCK, at % BLOCK
        mv = self._mv[:self._fill]
        self._walker.feed(mv)
        if at == 0:
            self._head[:] = mv[:_HEAD]
            mv[:_HEAD] = b"\xff" * _HEAD
        if offset == 0:
            self._slot.ioctl(6, n)
        self._slot.writeblocks(n, mv, offset)
        self._fill = 0

    def finish(self):
        """Once every byte has come: the image verified, its first bytes written, the
        slot made the one to boot. ValueError (the signature's refusal among them:
        set_boot's OSError), or anything else raised meanwhile (no heap left for the
        check: MemoryError), ends the update: the running firmware stays the one that
        boots, and the slot's first sector is erased."""
        if self.got != self.total:
            raise ValueError("length: %d of %d bytes" % (self.got, self.total))
        self.state = VERIFYING
        head = False
        try:
            self._walker.verify()
            self._slot.writeblocks(0, self._head, 0)
            head = True
            self._buf = self._mv = self._walker = None  # set_boot's check may need the heap
            try:
                self._slot.set_boot()
            except OSError as e:
                if e.args and e.args[0] == _VALIDATE_FAILED:
                    raise ValueError("signature: the image is not signed by a key this "
                                     "firmware trusts") from None
                raise ValueError("flash: the slot could not be made the boot slot (%s)"
                                 % e) from None
        except BaseException as e:
            if head:
                try:
                    self._slot.ioctl(6, 0)  # the slot must not look like an image
                except OSError:
                    pass  # otadata does not select it: the bootloader keeps to ours
            self.fail(str(e) or type(e).__name__)
            raise
        self._buf = self._mv = self._walker = None
        self.state = READY

    def fail(self, why):
        """Ends the update: its block let go, the slot left as it is (not bootable)."""
        self._buf = self._mv = self._walker = None
        self.state = FAILED
        self.error = why
