"""ESP-IDF's otadata: the entry format, the bootloader's choice and every transition the
update relies on, power losses included."""
from update import otadata
from update.otadata import ABORTED, INVALID, NEW, PENDING_VERIFY, UNDEFINED, VALID

ERASED = b"\xff" * 32
SLOTS = 2


def entry(seq, state):
    return otadata.encode(seq, state)


def apply(od, writes, torn=False):
    """Each write as ESP-IDF makes it: erase the sector, then write the entry. torn: the
    power goes after the last write's erase."""
    od = list(od)
    for k, (sector, e) in enumerate(writes):
        od[sector] = ERASED if torn and k == len(writes) - 1 else e
    return od


def start(od, loads=lambda s: True):
    """One start of the bootloader: (slot, otadata after it)."""
    slot, writes = otadata.boot(od[0], od[1], SLOTS, loads)
    return slot, apply(od, writes)


def raises(f, *args):
    try:
        f(*args)
    except ValueError:
        return True
    return False


def test_crc_is_zlib_crc32_of_the_seq_started_at_all_ones():
    assert otadata.crc(1) == 0x4743989A  # the value ESP-IDF's otatool.py computes
    assert otadata.crc(2) == 0x55F63774
    assert otadata.crc(0) == 0xFFFFFFFF
    # seq 1 as esptool-flashed images carry it (state UNDEFINED, label erased)
    assert entry(1, UNDEFINED) == bytes.fromhex("01000000" + "ff" * 20 + "ffffffff9a984347")


def test_encode_then_decode():
    assert len(entry(7, VALID)) == 32
    assert otadata.decode(entry(7, VALID)) == (7, VALID)
    assert otadata.decode(entry(3, ABORTED) + b"\xff" * 4064) == (3, ABORTED)
    assert otadata.decode(ERASED) is None
    assert otadata.decode(entry(0xFFFFFFFF, VALID)) is None  # an erased seq, whatever its crc
    bad = bytearray(entry(7, VALID))
    bad[28] ^= 1
    assert otadata.decode(bad) is None
    assert raises(otadata.decode, b"\x01\x00")


def test_active_is_the_highest_valid_seq():
    assert otadata.active(entry(1, VALID), entry(2, VALID), SLOTS) == (1, 2, VALID, 1)
    assert otadata.active(entry(3, NEW), entry(2, VALID), SLOTS) == (0, 3, NEW, 0)
    assert otadata.active(entry(5, VALID), entry(5, NEW), SLOTS) == (0, 5, VALID, 0)  # tie
    assert otadata.active(entry(9, PENDING_VERIFY), ERASED, SLOTS) == (0, 9, PENDING_VERIFY, 0)
    # INVALID and ABORTED entries never select a slot
    assert otadata.active(entry(1, VALID), entry(2, ABORTED), SLOTS)[3] == 0
    assert otadata.active(entry(3, INVALID), entry(2, VALID), SLOTS)[3] == 1


def test_seq_compares_unsigned_and_never_wraps():
    top = 0xFFFFFFFE
    assert otadata.active(entry(1, VALID), entry(top, VALID), SLOTS) == (1, top, VALID, 1)
    assert otadata.active(entry(0xFFFFFFFF, VALID), entry(1, VALID), SLOTS)[0] == 1
    assert otadata.active(entry(0, VALID), ERASED, SLOTS)[3] == 1  # (0 - 1) as uint32
    assert otadata.active(entry(0, VALID), entry(1, VALID), SLOTS)[0] == 1
    # at the top, set_boot writes seq 0xFFFFFFFF, which reads as erased: the old slot stays
    od = apply([entry(top, VALID), ERASED], otadata.set_boot(entry(top, VALID), ERASED,
                                                             SLOTS, 0))
    assert od[1][:4] == b"\xff" * 4
    assert start(od)[0] == 1


def test_one_corrupted_sector_leaves_the_other():
    bad = bytearray(entry(4, VALID))
    bad[0] ^= 0x80  # the seq no longer matches its crc
    assert otadata.active(bad, entry(3, VALID), SLOTS) == (1, 3, VALID, 0)
    assert otadata.active(entry(3, VALID), bad, SLOTS) == (0, 3, VALID, 0)
    assert start([bad, entry(3, VALID)])[0] == 0


def test_blank_otadata_boots_ota_0_and_writes_seq_1():
    assert otadata.active(ERASED, ERASED, SLOTS) == (None, None, None, 0)
    assert otadata.on_trial(ERASED, ERASED, SLOTS, 0) is False
    slot, writes = otadata.boot(ERASED, ERASED, SLOTS, lambda s: True)
    assert (slot, writes) == (0, [(0, entry(1, VALID))])
    # no image in ota_0: the bootloader goes on to ota_1 and writes its seq
    assert otadata.boot(ERASED, ERASED, SLOTS, lambda s: s == 1) == (1, [(0, entry(2, VALID))])
    assert otadata.boot(ERASED, ERASED, SLOTS, lambda s: False) == (None, [])


def test_set_boot_writes_the_next_seq_for_the_slot_in_the_other_sector():
    assert otadata.set_boot(ERASED, ERASED, SLOTS, 1) == [(0, entry(2, NEW))]
    assert otadata.set_boot(entry(1, VALID), ERASED, SLOTS, 1) == [(1, entry(2, NEW))]
    assert otadata.set_boot(entry(3, VALID), entry(2, VALID), SLOTS, 1) == [(1, entry(4, NEW))]
    assert otadata.set_boot(entry(3, VALID), entry(4, VALID), SLOTS, 0) == [(0, entry(5, NEW))]
    # an ABORTED entry does not count: the seq follows the valid one
    assert otadata.set_boot(entry(1, VALID), entry(2, ABORTED), SLOTS, 1) == [(1, entry(2, NEW))]
    # the running slot again: ESP-IDF writes the same seq, which loses the tie in sector 1
    assert otadata.set_boot(entry(1, VALID), ERASED, SLOTS, 0) == [(1, entry(1, NEW))]
    assert raises(otadata.set_boot, ERASED, ERASED, SLOTS, 2)


def test_set_boot_keeps_the_sector_label():
    old = b"\x05\x00\x00\x00" + b"label" + b"\x00" * 15 + b"\x03\x00\x00\x00" + b"\0" * 4
    (sector, e), = otadata.set_boot(entry(6, VALID), old, SLOTS, 0)
    assert (sector, e[4:24], otadata.decode(e)) == (1, old[4:24], (7, NEW))


def test_new_image_is_started_on_trial():
    od = [entry(1, VALID), entry(2, NEW)]
    slot, writes = otadata.boot(od[0], od[1], SLOTS, lambda s: True)
    assert (slot, writes) == (1, [(1, entry(2, PENDING_VERIFY))])
    od = apply(od, writes)
    assert otadata.on_trial(od[0], od[1], SLOTS, 1)
    assert not otadata.on_trial(od[0], od[1], SLOTS, 0)


def test_trial_not_confirmed_is_aborted_at_the_next_start():
    od = [entry(1, VALID), entry(2, PENDING_VERIFY)]
    slot, writes = otadata.boot(od[0], od[1], SLOTS, lambda s: True)
    assert (slot, writes) == (0, [(1, entry(2, ABORTED))])
    od = apply(od, writes)
    assert start(od) == (0, od)  # the aborted slot is never chosen again
    assert not otadata.on_trial(od[0], od[1], SLOTS, 0)


def test_invalid_and_aborted_slots_are_skipped():
    assert start([entry(5, INVALID), entry(4, VALID)])[0] == 1
    # neither entry usable: ota_0, and otadata is left alone (not blank)
    assert otadata.boot(entry(5, INVALID), entry(6, ABORTED), SLOTS, lambda s: True) == (0, [])
    assert otadata.boot(ERASED, entry(2, ABORTED), SLOTS, lambda s: True) == (0, [])


def test_a_slot_that_does_not_load_falls_back_without_changing_otadata():
    od = [entry(1, VALID), entry(2, NEW)]
    slot, writes = otadata.boot(od[0], od[1], SLOTS, lambda s: s == 0)
    assert (slot, writes) == (0, [(1, entry(2, PENDING_VERIFY))])
    od = apply(od, writes)
    assert not otadata.on_trial(od[0], od[1], SLOTS, 0)  # ota_0 runs; ota_1 was on trial
    assert start(od, lambda s: s == 0) == (0, [od[0], entry(2, ABORTED)])
    assert otadata.boot(entry(3, VALID), entry(2, VALID), SLOTS, lambda s: s == 1)[0] == 1


def test_mark_valid_confirms_the_active_entry_in_place():
    assert otadata.mark_valid(entry(1, VALID), entry(2, PENDING_VERIFY)) == [(1, entry(2, VALID))]
    assert otadata.mark_valid(entry(3, PENDING_VERIFY), entry(2, VALID)) == [(0, entry(3, VALID))]
    assert otadata.mark_valid(entry(1, VALID), ERASED) == []
    assert otadata.mark_valid(entry(1, UNDEFINED), ERASED) == [(0, entry(1, VALID))]
    assert raises(otadata.mark_valid, ERASED, ERASED)
    assert raises(otadata.mark_valid, entry(1, ABORTED), ERASED)
    # after set_boot the active entry is the new one: ESP-IDF would confirm it unstarted
    assert otadata.mark_valid(entry(1, VALID), entry(2, NEW)) == [(1, entry(2, VALID))]


def test_update_then_trial_fails_and_rolls_back_then_succeeds():
    od = [ERASED, ERASED]  # as `make flash` leaves it
    slot, od = start(od)
    assert (slot, od) == (0, [entry(1, VALID), ERASED])
    od = apply(od, otadata.set_boot(od[0], od[1], SLOTS, 1))
    assert start(od)[0] == 1
    slot, od = start(od)  # the new image's first start
    assert slot == 1 and otadata.on_trial(od[0], od[1], SLOTS, 1)
    slot, od = start(od)  # reset before it was marked valid
    assert slot == 0 and od == [entry(1, VALID), entry(2, ABORTED)]
    od = apply(od, otadata.set_boot(od[0], od[1], SLOTS, 1))  # the next try
    assert od == [entry(1, VALID), entry(2, NEW)]
    slot, od = start(od)
    assert slot == 1 and otadata.on_trial(od[0], od[1], SLOTS, 1)
    od = apply(od, otadata.mark_valid(od[0], od[1]))
    assert not otadata.on_trial(od[0], od[1], SLOTS, 1)
    assert start(od) == (1, [entry(1, VALID), entry(2, VALID)])
    od = apply(od, otadata.set_boot(od[0], od[1], SLOTS, 0))  # and back to ota_0
    assert od[0] == entry(3, NEW) and start(od)[0] == 0


def test_power_loss_between_erase_and_write_keeps_a_complete_slot():
    """ESP-IDF erases a sector before writing its entry. Cut there, the other sector still
    selects a slot that was complete before (old), or the new one (after set_boot)."""
    ok = (entry(1, VALID), entry(2, VALID))
    od = apply(ok, otadata.set_boot(ok[0], ok[1], SLOTS, 0), torn=True)  # sector 0 gone
    assert start(od)[0] == 1  # the running image stays
    trial = [entry(3, PENDING_VERIFY), entry(2, VALID)]
    od = apply(trial, otadata.mark_valid(trial[0], trial[1]), torn=True)
    assert start(od)[0] == 1  # the image on trial is lost: back to the previous one
    od = apply(trial, otadata.boot(trial[0], trial[1], SLOTS, lambda s: True)[1], torn=True)
    assert start(od)[0] == 1
    fresh = otadata.boot(ERASED, ERASED, SLOTS, lambda s: True)[1]
    assert start(apply([ERASED, ERASED], fresh, torn=True))[0] == 0
