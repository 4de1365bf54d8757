"""ESP-IDF's otadata (the release MicroPython 1.28 builds on, 5.5). esp32.Partition does not
show an image's state, so the update engine reads these bytes itself. The sim's bootloader
(tools/simboot.py) uses the same rules.

Each of the partition's two 4 KB sectors starts with an esp_ota_select_entry_t, 32 bytes
little-endian: u32 ota_seq, u8 seq_label[20], u32 ota_state, u32 crc. The crc covers
ota_seq alone, esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4): zlib's crc32 of those 4 bytes
started at 0xFFFFFFFF, as ESP-IDF's otatool.py computes it. The highest valid seq
selects slot (seq - 1) % slots. ESP-IDF changes an entry by erasing its sector and writing
the 32 bytes. The transitions here return those writes as (sector, entry) in ESP-IDF's
order, and the caller applies them. Functions take each sector's first 32 bytes or more.
"""
import binascii
import struct

SECTOR = 4096
ENTRY = 32
# esp_ota_img_states_t
NEW = 0
PENDING_VERIFY = 1
VALID = 2
INVALID = 3
ABORTED = 4
UNDEFINED = 0xFFFFFFFF

_ERASED = 0xFFFFFFFF  # an erased seq: bootloader_common_ota_select_invalid
_LABEL = b"\xff" * 20  # seq_label: ESP-IDF neither sets nor reads it
_FORMAT = "<I20sII"


def crc(seq):
    """bootloader_common_ota_select_crc."""
    return binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF)


def encode(seq, state):
    """An entry, as ESP-IDF writes one into an erased sector."""
    return struct.pack(_FORMAT, seq, _LABEL, state, crc(seq))


def decode(entry):
    """(seq, state) of a sector's entry; None when its seq is erased or its crc is wrong."""
    seq, _, state, c = _fields(entry)
    return None if seq == _ERASED or c != crc(seq) else (seq, state)


def active(sector0, sector1, n_slots):
    """(sector, seq, state, slot) of the entry that selects the boot slot, as
    bootloader_common_get_active_otadata picks it: the highest seq among entries with a
    good crc that are neither INVALID nor ABORTED, sector 0 on a tie. The seq is compared
    unsigned, with no wrap. With no such entry: (None, None, None, 0), since ESP-IDF then
    boots ota_0 (there is no factory app)."""
    f = (_fields(sector0), _fields(sector1))
    i = _select(f)
    if i is None:
        return None, None, None, 0
    return i, f[i][0], f[i][2], _slot(f[i][0], n_slots)


def on_trial(sector0, sector1, n_slots, running):
    """Whether the running slot is booted on trial (PENDING_VERIFY): it must be marked
    valid or it is rolled back at the next start, so no other image may go in meanwhile."""
    i, _, state, slot = active(sector0, sector1, n_slots)
    return i is not None and slot == running and state == PENDING_VERIFY


def set_boot(sector0, sector1, n_slots, slot):
    """The writes of esp_ota_set_boot_partition (esp_rewrite_ota_data) once the image has
    verified. The other sector gets the lowest seq not below the active one that selects
    slot, in state NEW (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE). When the target is the
    active slot, that is the active seq itself. With no valid entry: sector 0, slot + 1."""
    if not 0 <= slot < n_slots:
        raise ValueError("slot")
    f = (_fields(sector0), _fields(sector1))
    i = _select(f)
    if i is None:
        j, seq = 0, slot + 1
    else:
        j, seq, target = 1 - i, f[i][0], (slot + 1) % n_slots
        if seq > target:
            seq = target + (seq - target + n_slots - 1) // n_slots * n_slots
        else:
            seq = target
    return [(j, struct.pack(_FORMAT, seq, f[j][1], NEW, crc(seq)))]


def mark_valid(sector0, sector1):
    """The writes of esp_ota_mark_app_valid_cancel_rollback: the active entry becomes
    VALID, rewritten in its own sector. Note that after set_boot the active entry is the
    new one. ValueError when no entry is valid (ESP-IDF: ESP_FAIL, "factory")."""
    f = (_fields(sector0), _fields(sector1))
    i = _select(f)
    if i is None:
        raise ValueError("otadata: no valid entry")
    seq, label, state, _ = f[i]
    return [] if state == VALID else [(i, struct.pack(_FORMAT, seq, label, VALID, crc(seq)))]


def boot(sector0, sector1, n_slots, loads):
    """The bootloader at a start (bootloader_utility_get_selected_boot_partition, then
    bootloader_utility_load_boot_image): (slot booted or None, writes).

    PENDING_VERIFY in either sector becomes ABORTED: that image was started once and never
    marked valid. Then the active entry picks the slot, and a NEW entry becomes
    PENDING_VERIFY. loads(slot) says whether a slot's image loads. The bootloader tries the
    chosen slot, then the lower ones, then the higher ones, and leaves otadata as it is.
    When neither entry is usable it starts from ota_0. If both are blank (erased seq or bad
    crc), it writes seq slot + 1, VALID, into sector 0 for the slot that loaded."""
    f = [list(_fields(sector0)), list(_fields(sector1))]
    writes = []
    for i in 0, 1:
        if f[i][2] == PENDING_VERIFY:
            f[i][2] = ABORTED
            writes.append((i, struct.pack(_FORMAT, *f[i])))
    blank = False
    if _invalid(f[0]) and _invalid(f[1]):
        start = 0
        blank = _blank(f[0]) and _blank(f[1])
    else:
        i = _select(f)
        start = -1 if i is None else _slot(f[i][0], n_slots)  # -1: the absent factory app
        if i is not None and f[i][2] == NEW:
            f[i][2] = PENDING_VERIFY
            writes.append((i, struct.pack(_FORMAT, *f[i])))
    for slot in list(range(start, -1, -1)) + list(range(start + 1, n_slots)):
        if loads(slot):
            if blank:
                writes.append((0, struct.pack(_FORMAT, slot + 1, _LABEL, VALID, crc(slot + 1))))
            return slot, writes
    return None, writes


def _fields(entry):
    if len(entry) < ENTRY:
        raise ValueError("otadata entry")
    return struct.unpack_from(_FORMAT, entry)


def _slot(seq, n_slots):
    return ((seq - 1) & 0xFFFFFFFF) % n_slots  # uint32 arithmetic: seq 0 is slot 1 of 2


def _invalid(f):
    """bootloader_common_ota_select_invalid: the crc is not looked at."""
    return f[0] == _ERASED or f[2] == INVALID or f[2] == ABORTED


def _blank(f):
    return f[0] == _ERASED or f[3] != crc(f[0])


def _select(f):
    """bootloader_common_select_otadata over the valid entries, highest seq first."""
    ok0 = not _invalid(f[0]) and f[0][3] == crc(f[0][0])
    ok1 = not _invalid(f[1]) and f[1][3] == crc(f[1][0])
    if ok0 and ok1:
        return 0 if f[0][0] >= f[1][0] else 1
    return 0 if ok0 else 1 if ok1 else None
