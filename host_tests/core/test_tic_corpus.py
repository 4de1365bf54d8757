"""Linky TIC corpus frames against values read off the frames by hand."""
from support import corpus, corpus_names, parse_all, parse_one


def test_every_tic_corpus_file_decodes():
    names = corpus_names("tic")
    assert len(names) == 4
    for name in names:
        assert parse_one(name)["protocol"].startswith("tic-")


def test_historique_single_phase():
    r = parse_one("tic/linky_historique_1ph_hekmon.bin", now=77)
    assert r["protocol"] == "tic-historique" and r["ts"] == 77
    assert r["power_w"] == 2390 and r["power_l1_w"] == 2390 and r["power_export_w"] is None
    assert r["current_l1_a"] == 11.0 and r["current_l2_a"] is None
    assert r["energy_import_kwh"] == 123456.789 and r["meter_id"] == "012345678910"
    assert r["voltage_l1_v"] is None and r["version"] is None


def test_historique_three_phase():
    r = parse_one("tic/linky_historique_3ph_openhab.bin")
    assert r["power_w"] == 540 and r["power_l1_w"] is None
    assert (r["current_l1_a"], r["current_l2_a"], r["current_l3_a"]) == (0.0, 2.0, 0.0)
    assert r["energy_import_kwh"] == 1181.243 and r["tariff"] == 1


def test_standard_single_phase():
    r = parse_one("tic/linky_standard_1ph_hekmon.bin")
    assert r["protocol"] == "tic-standard" and r["version"] == "02"
    assert r["ts"] == 1707563635
    assert r["power_w"] == 263 and r["power_l1_w"] == 263 and r["voltage_l1_v"] == 242.0
    assert r["current_l1_a"] == 1.0 and r["energy_import_kwh"] == 3519.702
    assert r["energy_export_kwh"] is None and r["tariff"] == 1


def test_standard_three_phase_producer():
    r = parse_one("tic/linky_standard_3ph_prod_openhab.bin")
    assert r["ts"] == 1618381585
    assert r["power_import_w"] == 13 and r["power_export_w"] == 0 and r["power_w"] == 13
    assert (r["power_l1_w"], r["power_l2_w"], r["power_l3_w"]) == (0, 568, 0)
    assert (r["voltage_l1_v"], r["voltage_l2_v"], r["voltage_l3_v"]) == (234.0, 240.0, 242.0)
    assert (r["current_l1_a"], r["current_l2_a"], r["current_l3_a"]) == (1.0, 2.0, 1.0)
    assert r["energy_import_kwh"] == 11604.109 and r["energy_export_kwh"] == 671.631
    assert r["energy_import_t1_kwh"] == 2741.488 and r["energy_import_t2_kwh"] == 5905.5
    assert r["tariff"] == 2 and r["meter_id"] == "123456789012"


def _injecting(frame):
    """The producer frame with SINSTI set to 00500 and its checksum redone."""
    from meter import lex

    old = b"SINSTI\t00000\t<"
    i = frame.index(old)
    group = bytearray(b"SINSTI\t00500\t ")
    group[-1] = lex.tic_sum_py(group, 0, len(group) - 1)
    return frame[:i] + bytes(group) + frame[i + len(old):]


def test_injection_makes_net_power_and_currents_negative():
    r = parse_one("tic/linky_standard_3ph_prod_openhab.bin")
    readings, rejected = parse_all(_injecting(corpus("tic/linky_standard_3ph_prod_openhab.bin")))
    assert rejected == []
    r = readings[0]
    assert r["power_w"] == 13 - 500 and r["power_export_w"] == 500
    # The meter cannot say which phase exports: per-phase powers read 0, currents negative.
    assert (r["power_l1_w"], r["power_l2_w"], r["power_l3_w"]) == (0, 0, 0)
    assert (r["current_l1_a"], r["current_l2_a"], r["current_l3_a"]) == (-1.0, -2.0, -1.0)


def test_one_bad_group_rejects_the_frame():
    for name in corpus_names("tic"):
        data = corpus(name)
        i = data.index(b"\n", 5) + 2  # inside the second group's label
        bad = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        readings, rejected = parse_all(bad)
        assert readings == [] and len(rejected) == 1, name
        assert rejected[0].startswith("checksum error in group 2"), rejected


def test_eot_aborts_the_frame():
    data = corpus("tic/linky_historique_1ph_hekmon.bin")
    readings, rejected = parse_all(data[:40] + b"\x04" + data[40:] + data)
    assert len(readings) == 1 and rejected == []
