"""Firmware updates as a device service (docs/update.md): what runs (the booted image's
descriptor, its slot, whether it is on trial), an incoming image streamed through the
engine, the record that carries an update across its reboot, the trial of a new image,
and the report of a rollback.

The record (a small JSON file beside the configuration, written atomically) says which
slot an update went to, from and to which version, and which services were up before it:
the new image needs them back to be kept. The image on trial writes why it failed before
it resets; the previous image, booted again, finds the record pointing at the other slot
and otadata marking that slot aborted or invalid, and reports the rollback."""
import asyncio
import json

from device import config
from update import image, otadata
from update.engine import READY, RECEIVING, Engine
from update.trial import FAIL, VALID, Trial

SLOTS = 2
_APP = 0x10  # the subtype of ota_0: slot n is subtype 0x10 + n
DEFAULT_NEEDS = ("modbus", "https")  # on trial without a record: flashed some other way


def _describe(part):
    head = bytearray(image.HEAD_LEN)
    part.readblocks(0, head)
    return image.describe(head)


class Updates:
    def __init__(self, partition, board, record_path, fallback_version):
        """partition: esp32.Partition or the sim's stand-in (None: no slots at all);
        fallback_version: the firmware's own, for an image that is not ours (a stock
        MicroPython image running the .mpy files has no slots to update either)."""
        self._partition = partition
        self._board = board
        self._path = record_path
        self.version = fallback_version
        self.secure_version = 0
        self.previous = None  # the other slot's version, when it holds one of our images
        self.slot = None  # None: this image cannot be updated over the network
        self.on_trial = False
        self.engine = None
        self.record = self._load()
        if partition is None:
            return
        try:
            running = partition(partition.RUNNING)
            slot = running.info()[1] - _APP
            d = _describe(running)
            if d.board != board:
                return
            self.version, self.secure_version, self.slot = d.version, d.secure_version, slot
            self._previous()
            od = self._otadata()
        except (OSError, ValueError):
            return
        self.on_trial = otadata.on_trial(od[0], od[1], SLOTS, slot)
        self._reconcile(od)

    def _otadata(self):
        p = self._partition.find(self._partition.TYPE_DATA, 0)[0]
        od = (bytearray(otadata.ENTRY), bytearray(otadata.ENTRY))
        p.readblocks(0, od[0])
        p.readblocks(1, od[1])
        return od

    def _previous(self):
        try:
            d = _describe(self._partition(self._partition.RUNNING).get_next_update())
            self.previous = d.version if d.board == self._board else None
        except (OSError, ValueError):
            self.previous = None

    def _reconcile(self, od):
        """At boot: what became of the update in the record."""
        rec = self.record
        if rec.get("state") not in ("rebooting", "failed") or rec.get("slot") is None:
            return  # (an upload that failed before it changed anything has no slot)
        if rec.get("slot") == self.slot:
            if not self.on_trial:
                self._save(state="valid")
            return
        for entry in od:  # the bootloader marks the image it gave up on
            e = otadata.decode(entry)
            if e and (e[0] - 1) % SLOTS == rec.get("slot") and e[1] in (
                    otadata.ABORTED, otadata.INVALID):
                self._save(state="rolled-back", why=rec.get("why") or (
                    "it did not start: it crashed, hung or lost power on trial"))
                return
        self._save(state="interrupted", why="power was lost before it was applied")

    def _load(self):
        try:
            with open(self._path) as f:
                rec = json.load(f)
            return rec if isinstance(rec, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save(self, **changes):
        self.record.update(changes)
        config.save(self._path, self.record)

    def status(self):
        """GET /api/v1/firmware's update part."""
        e = self.engine
        if e is not None and e.busy():
            state = "rebooting" if e.state == READY else e.state
            return {"state": state, "received": e.got, "total": e.total,
                    "version": e.version}
        if self.on_trial:
            return {"state": "trial", "version": self.version}
        rec = self.record
        return {"state": rec.get("state", "idle"), "version": rec.get("to"),
                "why": rec.get("why")}

    async def receive(self, read, total, needs):
        """Streams total bytes through the engine: read(memoryview) -> awaitable n, 0 at
        the end. needs: the services up now, which the new image must bring back. The new
        version, made the boot slot (the caller reboots); ValueError (refused or broken,
        the running firmware untouched) otherwise, or what read raised, or MemoryError
        (no heap left: the caller answers "try again"). The record says
        why an update was refused or failed (its connection broke), but for one refused
        because another runs or the running image is on trial: that one's record stays."""
        if self.slot is None:
            raise ValueError("unavailable: this image has no second slot to update")
        if self.engine is None:
            self.engine = Engine(self._partition, self._board, self.secure_version)
        e = self.engine
        try:
            e.begin(total, self.on_trial)
        except ValueError as x:
            if not str(x).startswith(("busy", "trial")):
                self._ended(x, True)
            raise
        image_said = False
        try:
            while e.got < e.total:
                image_said = False  # while read() waits, the connection
                n = await read(e.room())
                if not n:
                    raise ValueError("length: the image ended at %d of %d bytes"
                                     % (e.got, e.total))
                image_said = True
                e.took(n)
        except BaseException as x:  # refused, the connection broke, or its task ended
            if e.state == RECEIVING:
                e.fail(str(x))
            self._ended(x, image_said)
            raise
        self.record = {}
        self._save(state="rebooting", slot=1 - self.slot, to=e.version, needs=needs,
                   **{"from": self.version})
        try:
            e.finish()
        except BaseException as x:  # refused, or no heap left for the check
            self._ended(x, True)
            raise
        self._previous()
        return e.version

    def _ended(self, x, image_said):
        """The record of an update that ended without changing what boots: refused when
        the image was (image_said: a ValueError naming its check), else failed: the
        connection broke, or the heap was short."""
        e = self.engine
        if isinstance(x, ValueError):
            why = str(x)
        elif isinstance(x, MemoryError):
            why = "heap: no memory left for the update (%s)" % x
        else:
            why = "connection: the upload broke off at %d of %d bytes (%s %s)" % (
                e.got, e.total, type(x).__name__, x)
        self.record = {}
        self._save(state="refused" if image_said and isinstance(x, ValueError) else "failed",
                   to=e.version, why=why)

    def revert(self, needs):
        """Makes the other slot's image, the previous version, the boot slot on purpose
        (an explicit action: nothing goes back by itself but a failed trial). It boots on
        trial as an update does; ValueError when there is nothing to go back to or the
        security version forbids it."""
        if self.slot is None:
            raise ValueError("unavailable: this image has no second slot")
        if self.on_trial:
            raise ValueError("trial: the running firmware is on trial; it must be marked "
                             "valid first")
        e = self.engine
        if e is not None and e.busy():
            raise ValueError("busy: an update is running or waits for its reboot")
        other = self._partition(self._partition.RUNNING).get_next_update()
        try:
            d = _describe(other)
        except (OSError, ValueError):
            raise ValueError("previous: the other slot holds no image") from None
        if d.board != self._board:
            raise ValueError("previous: the other slot holds an image for %s" % d.board)
        if d.secure_version < self.secure_version:
            raise ValueError("security version: the previous version's is %d, the running "
                             "firmware's %d" % (d.secure_version, self.secure_version))
        self.record = {}
        self._save(state="rebooting", slot=1 - self.slot, to=d.version, needs=needs,
                   **{"from": self.version})
        try:
            other.set_boot()
        except OSError:
            self._save(state="refused", why="signature: the previous image is not signed "
                       "by a key this firmware trusts")
            raise ValueError(self.record["why"]) from None
        return d.version

    async def trial(self, up, ms, reset, deadline_ms, settle_ms):
        """On a trial boot: the verdict every second; valid marks the image so, a failure
        writes why and resets (the bootloader then boots the previous slot)."""
        if not self.on_trial:
            return
        t = Trial(tuple(self.record.get("needs") or DEFAULT_NEEDS), ms(), deadline_ms,
                  settle_ms)
        while True:
            verdict = t.step(ms(), up)
            if verdict == VALID:
                self._partition.mark_app_valid_cancel_rollback()
                self.on_trial = False
                self._save(state="valid")
                return
            if verdict == FAIL:
                self._save(state="failed", why="not healthy within %d s: %s did not come back"
                           % (deadline_ms // 1000, ", ".join(t.missing)))
                reset()
                return
            await asyncio.sleep(1)
