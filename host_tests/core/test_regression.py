"""Issue 11: meters that lost data, as telegrams written by hand from the public
specifications (corpus/regression/README.md), against values worked out by hand."""
from meter import lex
from meter.decoder import INCOMPLETE, Decoder
from meter.framer import DSMR
from support import close, corpus, parse_all, parse_one

NOW = 1700000000


def check(r, **expected):
    for k, want in expected.items():
        got = r[k]
        if isinstance(want, float):
            assert close(got, want), (k, got, want)
        else:
            assert got == want, (k, got, want)


def with_crc(body):
    """A telegram from its text up to and including '!'."""
    return body + ("%04X\r\n" % lex.crc16(body, 0, len(body))).encode()


def one(data, now=NOW):
    readings, rejected = parse_all(data, now)
    assert rejected == [] and len(readings) == 1, rejected
    return readings[0]


class Line:
    """A P1 port as the meter task drives it: bytes as they come, a tick every second."""

    def __init__(self):
        self.readings = []
        self.rejected = []
        self.ms = 0
        self.dec = Decoder(lambda r, raw, buf, n: self.readings.append(r),
                           lambda kind, reason, buf, n: self.rejected.append(reason),
                           kinds=DSMR)

    def feed(self, data):
        self.dec.feed(data, NOW)

    def wait(self, seconds):
        for _ in range(seconds):
            self.ms += 1000
            self.dec.tick(self.ms)


def test_slashes_in_a_text_message_keep_one_telegram():
    r = parse_one("regression/dsmr22_text_slash.txt", now=NOW)
    check(r, protocol="dsmr2", ts=NOW, meter_id="K8EG004046395507", power_w=980,
          power_import_w=980, power_export_w=0, energy_import_t1_kwh=1234.567,
          energy_import_t2_kwh=2345.678, energy_import_kwh=3580.245,
          energy_export_kwh=35.801, tariff=2, gas_m3=1234.567, gas_ts=1715500800)
    raws = []
    Decoder(lambda r, raw, buf, n: raws.append(raw), raw=True).feed(
        corpus("regression/dsmr22_text_slash.txt"), 0)
    assert raws[0]["0-0:96.13.0"] == [
        "Onderhoud 12/05 08:00-10:00 /ISk5 storing! zie www.example.nl/p1"]


def test_the_tail_of_a_text_message_is_no_telegram():
    # Bytes from the middle of a message on, as when the gateway starts mid-telegram.
    t = corpus("regression/dsmr22_text_slash.txt")
    readings, rejected = parse_all(t[t.index(b"/p1)"):] + t, NOW)
    assert rejected == ["bad ident line"] and len(readings) == 1


def test_dsmr22_without_end_line_ends_at_the_next_telegram_and_at_the_end():
    readings, rejected = parse_all(corpus("regression/dsmr22_no_end_line.txt"), NOW)
    assert rejected == [] and len(readings) == 2
    for r in readings:
        check(r, protocol="dsmr2", ts=NOW, energy_import_kwh=3580.245, tariff=1,
              gas_m3=1234.567, gas_ts=1705050000, meter_id="K8EG004046395507")
    check(readings[0], power_w=1230, power_import_w=1230, power_export_w=0)
    check(readings[1], power_w=-450, power_import_w=0, power_export_w=450)


def test_dsmr22_without_end_line_ends_when_the_line_falls_silent():
    data = corpus("regression/dsmr22_no_end_line.txt")
    second = data.index(b"/", 1)
    line = Line()
    for i in range(0, second, 64):
        line.feed(data[i:min(i + 64, second)])
    line.wait(2)
    assert line.readings == []
    line.wait(1)  # 2 s without a byte since the tick that saw the last ones
    assert len(line.readings) == 1 and line.readings[0]["power_w"] == 1230
    line.wait(7)
    line.feed(data[second:])
    line.wait(3)
    assert [r["power_w"] for r in line.readings] == [1230, -450] and line.rejected == []


def test_a_crc_telegram_without_end_line_is_never_accepted():
    # DSMR 5 (1-3:0.2.8), e-MUCS (0-0:96.1.4), and E.ON Hungary's DSMR 5 without a
    # version line (0-0:1.0.0 only, which DSMR 2.2/3.0 never send).
    for name in ("dsmr/v5.txt", "dsmr/fluvius_v171.txt", "dsmr/v5_eon_hu.txt"):
        t = corpus(name)
        cut = t[:t.rindex(b"!")]
        line = Line()
        line.feed(cut)
        line.wait(3)
        line.feed(t)
        line.wait(3)
        assert line.rejected == ["no end line"] and len(line.readings) == 1, name
        readings, rejected = parse_all(cut, NOW)
        assert readings == [] and rejected == [INCOMPLETE], name


def test_emucs_without_crc_is_refused():
    t = corpus("dsmr/fluvius_v171.txt")
    readings, rejected = parse_all(t[:t.rindex(b"!") + 1] + b"\r\n")
    assert readings == [] and rejected == ["e-MUCS telegram without CRC"]


def test_electricity_objects_on_channel_1():
    r = one(corpus("regression/dsmr5_channel1.txt"))
    check(r, protocol="dsmr5", ts=1717697924, power_w=1234, power_import_w=1234,
          power_export_w=0, energy_import_t1_kwh=1234.567, energy_import_t2_kwh=2345.678,
          energy_import_kwh=3580.245, energy_export_t1_kwh=12.345,
          energy_export_t2_kwh=23.456, energy_export_kwh=35.801, tariff=1,
          peak_month_w=3456, peak_month_ts=1717395300, voltage_l1_v=231.4,
          current_l1_a=5.0, power_l1_w=None, mbus=None)


def test_the_1_0_form_wins_over_other_channels():
    t = corpus("regression/dsmr5_channel1.txt")
    body = t[:t.rindex(b"!") + 1]
    # After the channel-1 line it replaces that value; before it, it is kept.
    body = body.replace(b"1-1:1.7.0(01.234*kW)\r\n",
                        b"1-1:1.7.0(01.234*kW)\r\n1-0:1.7.0(00.999*kW)\r\n")
    body = body.replace(b"1-1:1.8.1(", b"1-0:1.8.1(000999.999*kWh)\r\n1-1:1.8.1(")
    r = one(with_crc(body))
    check(r, power_w=999, energy_import_t1_kwh=999.999, energy_import_kwh=3345.677,
          energy_import_t2_kwh=2345.678)


def test_lower_case_zone_letter_and_crc():
    t = corpus("regression/dsmr4_lowercase.txt")
    assert t.endswith(b"!2a44\r\n") and b"(150701190000s)" in t
    r = one(t)
    check(r, protocol="dsmr4", version="40", ts=1435770912, gas_m3=456.789,
          gas_ts=1435770000, power_w=345, power_l1_w=345, current_l1_a=1.0,
          energy_import_kwh=358.023, meter_id="E0004001594754414")
    readings, rejected = parse_all(t[:-6] + b"2a45\r\n")
    assert readings == [] and rejected == ["CRC mismatch"]


def test_unset_meter_clocks_take_the_device_clock():
    readings, rejected = parse_all(corpus("regression/dsmr5_unset_clock.txt"), NOW)
    assert rejected == [] and len(readings) == 2  # 000101010000W, then 000000000000W
    for r in readings:
        check(r, ts=NOW, gas_m3=12.345, gas_ts=None, power_w=100)
        assert r["mbus"][0]["ts"] is None and r["mbus"][0]["value"] == 12.345
    r = one(corpus("regression/tic_standard_unset_clock.bin"))
    check(r, protocol="tic-standard", ts=NOW, power_w=1150, energy_import_kwh=1234.567,
          current_l1_a=5.0, voltage_l1_v=231.0, tariff=1, meter_id="041876097235")


def test_total_power_is_the_sum_of_the_phases():
    r = one(corpus("regression/dsmr5_phases_only.txt"))
    check(r, ts=1705325400, power_import_w=912 + 0 + 230, power_export_w=0 + 456 + 0,
          power_w=1142 - 456, power_l1_w=912, power_l2_w=-456, power_l3_w=230,
          current_l1_a=4.0, current_l2_a=-2.0, current_l3_a=1.0,
          energy_export_kwh=802.467)


def test_every_mbus_device_in_channel_order():
    r = one(corpus("regression/dsmr5_four_mbus.txt"))
    check(r, ts=1709290800, gas_m3=1234.567, gas_ts=1709290500, water_m3=45.678,
          water_ts=1709290200, meter_id="E0044007382246019")
    assert r["mbus"] == [
        {"channel": 1, "type": 3, "id": "G0039001936990619", "value": 1234.567,
         "unit": "m3", "ts": 1709290500},
        {"channel": 2, "type": 7, "id": "W0000000000000001", "value": 45.678,
         "unit": "m3", "ts": 1709290200},
        {"channel": 3, "type": 3, "id": "G0039001936990620", "value": 567.89,
         "unit": "m3", "ts": 1709290500},
        {"channel": 4, "type": 4, "id": "H0000000000000001", "value": 12.345,
         "unit": "GJ", "ts": 1709287200}]


def test_a_telegram_cut_by_the_end_of_the_input_is_reported():
    readings, rejected = parse_all(corpus("regression/dsmr5_cut_at_end.txt"), NOW)
    assert len(readings) == 1 and rejected == [INCOMPLETE]
    check(readings[0], ts=1704161045, power_w=250, energy_import_kwh=3.0)


def test_no_known_object_is_no_reading():
    readings, rejected = parse_all(corpus("regression/d0_obis_star255.txt"))
    assert readings == [] and rejected == ["no meter values"]
    # An ident line alone, ended by silence.
    line = Line()
    line.feed(b"/ISk5\\2MT382-1004\r\n\r\n0-0:96.1.1(4B384547303034303436333935353037)\r\n")
    line.wait(3)
    assert line.readings == [] and line.rejected == ["no meter values"]
    group = bytearray(b"MOTDETAT\t000000\t ")
    group[-1] = lex.tic_sum_py(group, 0, len(group) - 1)
    readings, rejected = parse_all(b"\x02\n" + bytes(group) + b"\r\x03")
    assert readings == [] and rejected == ["no meter values"]


def test_mbus_devices_follow_every_telegram():
    # The parser keeps what devices sent between telegrams (an unchanged list is the
    # same object); each reading still says what its own telegram sent.
    from meter.dsmr import DsmrParser, TelegramError

    t = corpus("regression/dsmr5_four_mbus.txt")
    body = t[:t.rindex(b"!") + 1]
    changed = with_crc(body.replace(b"(01234.567*m3)", b"(01234.568*m3)"))
    channel_3 = body[body.index(b"0-3:24.1.0"):body.index(b"0-4:24.1.0")]
    fewer = with_crc(body.replace(channel_3, b""))
    p = DsmrParser()

    def parse(data):
        return p.parse(data, len(data), NOW)

    r1 = parse(t)
    r2 = parse(t)
    assert r2["mbus"] is r1["mbus"] and r2["gas_m3"] == 1234.567
    refused = None
    try:  # refused after its devices were read
        parse(changed[:changed.rindex(b"!")])
    except TelegramError as e:
        refused = str(e)
    assert refused == "no end line"
    r3 = parse(t)
    assert r3["mbus"] == r1["mbus"] and r3["gas_m3"] == 1234.567
    r4 = parse(changed)
    assert r4["gas_m3"] == 1234.568 and r4["mbus"][0]["value"] == 1234.568
    assert r1["mbus"][0]["value"] == 1234.567  # an earlier reading is never changed
    r5 = parse(fewer)
    assert [d["channel"] for d in r5["mbus"]] == [1, 2, 4] and r5["gas_m3"] == 1234.567
    r6 = parse(corpus("dsmr/sagemcom_t210_d_r.txt"))
    assert r6["mbus"] is None and r6["gas_m3"] is None
    assert parse(t)["mbus"] == r1["mbus"]
