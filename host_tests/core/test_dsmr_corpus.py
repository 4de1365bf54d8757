"""Every DSMR / e-MUCS corpus telegram against values worked out by hand from its text."""
from support import close, corpus, corpus_names, parse_all, parse_one


def check(r, **expected):
    for k, want in expected.items():
        got = r[k]
        if isinstance(want, float):
            assert close(got, want), (k, got, want)
        else:
            assert got == want, (k, got, want)


def test_every_dsmr_corpus_file_decodes():
    names = corpus_names("dsmr")
    assert len(names) == 13
    for name in names:
        r = parse_one(name, now=1000)
        assert r["protocol"] in ("dsmr2", "dsmr3", "dsmr4", "dsmr5", "emucs"), name


def test_v5_three_phase():
    r = parse_one("dsmr/v5.txt")
    check(r, protocol="dsmr5", version="50", ts=1483381202, meter_id="K8EG004046395507",
          power_w=244, power_import_w=244, power_export_w=0,
          power_l1_w=70, power_l2_w=32, power_l3_w=142,
          voltage_l1_v=230.0, voltage_l2_v=230.0, voltage_l3_v=229.0,
          current_l1_a=0.48, current_l2_a=0.44, current_l3_a=0.86,
          energy_import_t1_kwh=4.426, energy_import_t2_kwh=2.399, energy_import_kwh=6.825,
          energy_export_t1_kwh=2.444, energy_export_t2_kwh=0.0, energy_export_kwh=2.444,
          tariff=2, gas_m3=0.107, gas_ts=1483369805, water_m3=None, avg_demand_w=None,
          peak_month_w=None, peak_history=None)


def test_v5_two_mbus_takes_the_gas_meter_that_reports():
    # Channel 1 is a gas device with the placeholder "(700101010000W)(00000000)".
    r = parse_one("dsmr/v5_two_mbus.txt")
    check(r, gas_m3=246.138, gas_ts=1587933001, power_w=111, power_l3_w=55, current_l3_a=1.0)
    assert r["mbus"] == [
        {"channel": 1, "type": 3, "id": None, "value": None, "unit": None, "ts": None},
        {"channel": 2, "type": 3, "id": "G0039001936990619", "value": 246.138, "unit": "m3",
         "ts": 1587933001}]


def test_every_mbus_device_is_listed():
    # v5: channel 2 is a gas device that sends its type only ("0-2:96.1.0()").
    assert parse_one("dsmr/v5.txt")["mbus"] == [
        {"channel": 1, "type": 3, "id": "2222ABCD123456789", "value": 0.107, "unit": "m3",
         "ts": 1483369805},
        {"channel": 2, "type": 3, "id": None, "value": None, "unit": None, "ts": None}]
    r = parse_one("dsmr/unpadded_crc.txt")
    assert r["mbus"] == [{"channel": 1, "type": 4, "id": "621848012D2C0B0C", "value": 240.86,
                          "unit": "GJ", "ts": 1771182323}]
    # Iskra IE sends only an empty channel-1 id: no device.
    assert parse_one("dsmr/iskra_ie.txt")["mbus"] is None


def test_v4_2_has_no_voltages():
    r = parse_one("dsmr/v4_2.txt")
    check(r, protocol="dsmr4", version="42", ts=1479067077, power_w=2027,
          power_l1_w=170, power_l2_w=1247, power_l3_w=209,
          voltage_l1_v=None, voltage_l2_v=None, voltage_l3_v=None,
          current_l1_a=0.0, current_l2_a=6.0, current_l3_a=2.0,
          energy_import_kwh=3016.829, gas_m3=981.443, gas_ts=1480446000)


def test_legacy_dsmr_gas_on_the_next_line():
    r = parse_one("dsmr/v2_2.txt", now=1234)
    check(r, protocol="dsmr2", version=None, ts=1234, gas_m3=1.001, gas_ts=1478541600,
          power_w=1010, energy_import_kwh=2.002, tariff=1, meter_id="00000000000000")
    # v3's gas time 090212160000 is before 2010: the meter has no valid time.
    r = parse_one("dsmr/v3.txt", now=1234)
    check(r, protocol="dsmr3", ts=1234, gas_m3=1.001, gas_ts=None, power_w=1190,
          energy_import_t1_kwh=12345.678, tariff=2)
    assert r["mbus"] == [{"channel": 1, "type": 3, "id": "2222ABCD123456789",
                          "value": 1.001, "unit": "m3", "ts": None}]


def test_emucs_peak_history_13_months():
    r = parse_one("dsmr/fluvius_13month_history.txt")
    check(r, protocol="emucs", version="50217", ts=1717697924, avg_demand_w=62,
          peak_month_w=2478, peak_month_ts=1717317000, gas_m3=2673.89, gas_ts=1717697807,
          current_l1_a=0.71, current_l2_a=0.96, current_l3_a=1.79, power_w=263,
          energy_import_t1_kwh=7446.749, energy_export_t1_kwh=10848.406, tariff=1)
    h = r["peak_history"]
    assert len(h) == 13
    assert h[0] == {"month_ts": 1685570400, "ts": 1683558900, "w": 2162}
    assert h[12] == {"month_ts": 1717192800, "ts": 1717097400, "w": 2764}
    assert [e["w"] for e in h] == [2162, 3496, 3140, 2424, 2576, 4257, 3465, 3437, 4855,
                                   3339, 3056, 3043, 2764]


def test_emucs_gas_and_water_found_by_device_type():
    r = parse_one("dsmr/fluvius_v171.txt")
    check(r, gas_m3=112.384, gas_ts=1589283958, water_m3=872.234, water_ts=1589283958,
          avg_demand_w=2351, peak_month_w=2589, meter_id="1SAG3101021605")
    assert [e["w"] for e in r["peak_history"]] == [3695, 5980, 4318]


def test_emucs_history_placeholder_date_is_null():
    r = parse_one("dsmr/fluvius_v171_alt.txt")
    assert r["peak_history"][0] == {"month_ts": 1690840800, "ts": None, "w": 0}
    check(r, water_m3=8.579, gas_m3=92.287)


def test_export_signs_currents_and_powers():
    r = parse_one("dsmr/dsmr502_spec_example.txt")
    check(r, power_l1_w=1111 - 4444, power_l2_w=2222 - 5555, power_l3_w=3333 - 6666,
          current_l1_a=-1.0, current_l2_a=-2.0, current_l3_a=-3.0, power_w=1193,
          gas_m3=12785.123, ts=1291890620)
    r = parse_one("dsmr/v5_eon_hu.txt")
    # No per-phase powers: currents follow the net power (exporting 2601 W).
    check(r, power_w=-2601, power_export_w=2601, current_l1_a=-3.0, current_l2_a=-4.0,
          current_l3_a=-3.0, energy_import_kwh=173.64, energy_export_kwh=627.177,
          meter_id="890082200002160", peak_history=None)
    r = parse_one("dsmr/iskra_ie.txt")
    check(r, power_w=-100, power_l1_w=-10, current_l1_a=0.0, meter_id="09610")


def test_watt_units_and_totals():
    r = parse_one("dsmr/sagemcom_t210_d_r.txt")
    check(r, power_w=286, energy_import_kwh=6545.766, energy_import_t1_kwh=5017.12,
          energy_export_kwh=0.058, tariff=None)


def test_three_digit_crc_and_unknown_device_type():
    r = parse_one("dsmr/unpadded_crc.txt")
    check(r, gas_m3=None, water_m3=None, meter_id="ADC3100000158491", ts=1771182323)


def test_raw_keeps_every_object():
    from meter.decoder import Decoder

    raws = []
    Decoder(lambda r, raw, buf, n: raws.append(raw), raw=True).feed(
        corpus("dsmr/v5_eon_hu.txt"), 0)
    raw = raws[0]
    assert raw["1-0:14.7.0"] == ["50.00*Hz"]
    assert raw["0-0:98.1.0"][0] == "230701000000S" and len(raw["0-0:98.1.0"]) == 20
    assert raw["1-0:13.7.0"] == ["4.556"]
    raws = []
    Decoder(lambda r, raw, buf, n: raws.append(raw), raw=True).feed(corpus("dsmr/v2_2.txt"), 0)
    assert raws[0]["0-1:24.3.0"][-2:] == ["m3", "00001.001"]


def test_single_byte_changes_are_refused():
    data = corpus("dsmr/v5.txt")
    for i in range(1, len(data) - 2):
        b = bytearray(data)
        b[i] ^= 0x01
        readings, _ = parse_all(bytes(b))
        assert readings == [], i


def test_dsmr4_without_crc_is_refused():
    data = corpus("dsmr/v4_2.txt")
    cut = data[:data.rindex(b"!") + 1] + b"\r\n"
    readings, rejected = parse_all(cut)
    assert readings == [] and rejected == ["DSMR 42 telegram without CRC"]
