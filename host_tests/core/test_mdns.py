"""The mDNS responder's state machine with time as an input: probing, announcing, answers
(multicast, legacy unicast, DNS-SD), the shared name lost to another device or won in a
simultaneous probe, address changes and goodbyes, the send budget, hostile packets.
Two responders on one simulated LAN: both keep their own names, one holds the shared."""
from net import mdns
from net import mdns_wire as w

IP = "192.168.1.20"
OTHER = "192.168.1.30"  # a later address: wins simultaneous probes against IP
LOWER = "192.168.1.10"
HOST = b"smart-connect-sc0001.local"
SHARED = b"smart-connect.local"
INSTANCE = b"smart connect sc0001._http._tcp.local"


def _responder(serial="SC0001", rand=b"\x00"):
    return mdns.Responder("smart-connect-%s.local" % serial.lower(), "smart-connect.local",
                          "Smart Connect " + serial, "_http._tcp.local", 8443,
                          (("serial", serial), ("product", "Smart Connect"),
                           ("path", "/api/v1")), rand=lambda n: rand)


def _query(*questions, qid=0, authority=()):
    return w.packet(qid, 0, [w.question(w.name(n), t) for n, t in questions], (), authority)


def _response(*records):
    return w.packet(0, 0x8400, (), records)


def _a(name, ip, ttl=120):
    return w.record(w.name(name), w.A, ttl, bytes(int(x) for x in ip.split(".")))


def _name(d, p):
    """The name at d[p] as lowercase dotted bytes (the packets here are well formed)."""
    labels = []
    while d[p]:
        if d[p] >= 0xC0:
            p = (d[p] & 0x3F) << 8 | d[p + 1]
            continue
        labels.append(bytes(d[p + 1:p + 1 + d[p]]).lower())
        p += 1 + d[p]
    return b".".join(labels)


def _questions(pkt):
    return [(_name(pkt, n), t) for n, t in w.parse(pkt)[2]]


def _records(pkt, section=None):
    """{(name, type): rdata} of a packet we sent."""
    _, _, _, rs, _, _ = w.parse(pkt)
    return {(_name(pkt, n), t): bytes(pkt[at:at + size]) for n, t, sec, at, size in rs
            if section is None or sec == section}


def _ttls(pkt):
    _, _, _, rs, _, _ = w.parse(pkt)
    return {int.from_bytes(pkt[at - 6:at - 2], "big") for n, t, sec, at, size in rs}


def _claimed(r, ip=IP, start=0):
    """Runs r from an address to the end of its announcements; the packets it sent."""
    r.set_address(ip)
    sent = []
    now = start
    for _ in range(20):
        sent += [(now, p) for p in r.tick(now)]
        wait = r.next_ms(now)
        if wait is None:
            break
        now += max(wait, 1)
    return sent


def _ip(s):
    return bytes(int(x) for x in s.split("."))


def test_names_and_records_are_encoded_as_dns_wants_them():
    assert w.name("smart-connect.local") == b"\x0dsmart-connect\x05local\x00"
    for bad in ("", "a..b", "x" * 64 + ".local", ".".join(["abcdefgh"] * 30)):
        try:
            w.name(bad)
            raise AssertionError(bad)
        except ValueError:
            pass
    rec = w.record(w.name("a.local"), w.A, 120, b"\x01\x02\x03\x04")
    assert rec == b"\x01a\x05local\x00\x00\x01\x80\x01\x00\x00\x00\x78\x00\x04\x01\x02\x03\x04"
    assert w.txt((("a", "b"), ("path", "/api/v1"))) == b"\x03a=b\x0cpath=/api/v1"


def test_nothing_is_sent_or_answered_without_an_address():
    r = _responder()
    assert r.tick(0) == [] and r.next_ms(0) is None
    assert r.receive(_query((HOST.decode(), w.A)), False, 0) == []
    assert r.status()["shared"] == "off"


def test_three_probes_250_ms_apart_then_two_announcements_claim_the_shared_name():
    r = _responder(rand=b"\x80")  # the first probe 125 ms after the address
    sent = _claimed(r)
    times = [t for t, _ in sent]
    assert times == [125, 375, 625, 875, 1875], times
    for _, probe in sent[:3]:
        assert w.parse(probe)[1] == 0
        qs = _questions(probe)
        assert (HOST, w.ANY) in qs and (SHARED, w.ANY) in qs
        auth = _records(probe, 2)
        assert auth[(SHARED, w.A)] == auth[(HOST, w.A)] == _ip(IP)
        assert auth[(INSTANCE, w.SRV)][4:6] == (8443).to_bytes(2, "big")
    for _, ann in sent[3:]:
        recs = _records(ann)
        assert recs[(HOST, w.A)] == recs[(SHARED, w.A)] == _ip(IP)
        assert recs[(b"_http._tcp.local", w.PTR)] == w.name("Smart Connect SC0001._http._tcp.local")
        assert recs[(b"_services._dns-sd._udp.local", w.PTR)] == w.name("_http._tcp.local")
        assert recs[(INSTANCE, w.SRV)] == b"\x00\x00\x00\x00\x20\xfb" + w.name(HOST.decode())
        assert recs[(INSTANCE, w.TXT)] == \
            b"\x0dserial=SC0001\x15product=Smart Connect\x0cpath=/api/v1"
        assert _ttls(ann) == {120, 4500}
    assert r.status() == {"address": IP, "shared": "claimed", "conflicts": 0, "answered": 0,
                          "dropped": 0}
    assert r.next_ms(5000) is None


def test_a_queries_are_answered_for_both_names_once_a_second():
    r = _responder()
    _claimed(r)
    now = 10000
    for name in (HOST, SHARED, b"Smart-Connect.LOCAL"):
        out = r.receive(_query((name.decode(), w.A)), False, now)
        assert len(out) == 1 and _records(out[0]) == {(name.lower(), w.A): _ip(IP)}
        assert r.receive(_query((name.decode(), w.A)), False, now + 999) == []  # rate limit
        now += 1000
    assert r.receive(_query(("other.local", w.A), ("smart-connect-sc0002.local", w.A)),
                     False, now) == []
    assert r.receive(_query((HOST.decode(), w.TXT)), False, now) == []  # no such record


def test_dns_sd_browse_gets_the_service_with_its_records_as_additional():
    r = _responder()
    _claimed(r)
    out = r.receive(_query(("_http._tcp.local", w.PTR)), False, 10000)
    answers, extra = _records(out[0], 1), _records(out[0], 3)
    assert list(answers) == [(b"_http._tcp.local", w.PTR)]
    assert set(extra) == {(INSTANCE, w.SRV), (INSTANCE, w.TXT), (HOST, w.A)}
    out = r.receive(_query(("Smart Connect SC0001._http._tcp.local", w.ANY)), False, 20000)
    assert set(_records(out[0], 1)) == {(INSTANCE, w.SRV), (INSTANCE, w.TXT)}
    assert set(_records(out[0], 3)) == {(HOST, w.A)}
    out = r.receive(_query(("_services._dns-sd._udp.local", w.PTR)), False, 30000)
    assert _records(out[0]) == {
        (b"_services._dns-sd._udp.local", w.PTR): w.name("_http._tcp.local")}


def test_legacy_queries_get_a_unicast_answer_with_their_id_and_question():
    r = _responder()
    _claimed(r)
    q = _query((SHARED.decode(), w.A), qid=0xBEEF)
    out = r.receive(q, True, 10000)
    qid, flags = w.parse(out[0])[:2]
    assert qid == 0xBEEF and flags == 0x8400 and _questions(out[0]) == [(SHARED, w.A)]
    assert _records(out[0]) == {(SHARED, w.A): _ip(IP)} and _ttls(out[0]) == {10}
    assert out[0][-12:-10] == b"\x00\x01"  # no cache-flush bit in a legacy answer
    assert len(r.receive(q, True, 10001)) == 1  # not limited to once a second: its own


def test_the_send_budget_caps_answers_to_a_flood():
    r = _responder()
    _claimed(r)
    q = _query((HOST.decode(), w.A))
    answered = sum(len(r.receive(q, True, 10000 + i)) for i in range(50))
    assert answered == mdns.SEND_MAX and r.status()["dropped"] == 50 - mdns.SEND_MAX
    assert len(r.receive(q, True, 11000)) == 1


def test_an_answer_while_probing_gives_the_shared_name_up_but_not_our_own():
    r = _responder()
    r.set_address(IP)
    r.tick(0)
    r.tick(0)  # the first probe
    assert r.receive(_response(_a("smart-connect.local", OTHER)), False, 100) == []
    assert r.status()["shared"] == "lost" and r.status()["conflicts"] == 1
    sent = []
    now = 100
    while r.next_ms(now) is not None and now + r.next_ms(now) < 5000:
        now += max(r.next_ms(now), 1)
        sent += r.tick(now)
    recs = _records(sent[-1])
    assert (SHARED, w.A) not in recs and recs[(HOST, w.A)] == _ip(IP)
    assert (SHARED, w.ANY) not in _questions(sent[0])  # later probes leave it alone
    assert r.receive(_query((SHARED.decode(), w.A)), False, 9000) == []
    assert len(r.receive(_query((HOST.decode(), w.A)), False, 9000)) == 1
    # the other device's own name is not ours: no conflict, no answer
    assert r.receive(_response(_a("smart-connect-sc0001.local", IP)), False, 9000) == []
    assert r.status()["conflicts"] == 1
    # tried again after RETRY_MS; the holder answers the probe again
    assert r.next_ms(now) == mdns.RETRY_MS + 100 - now
    now = mdns.RETRY_MS + 100
    probe = r.tick(now)
    assert r.status()["shared"] == "probing" and (SHARED, w.ANY) in _questions(probe[0])
    r.receive(_response(_a("smart-connect.local", OTHER)), False, now + 10)
    assert r.status()["shared"] == "lost"


def test_a_later_address_probing_at_the_same_time_wins_the_shared_name():
    for theirs, wins in ((OTHER, False), (LOWER, True), (IP, True)):
        r = _responder()
        r.set_address(IP)
        r.tick(0)
        r.tick(0)  # probe 1
        rival = _query(("smart-connect.local", w.ANY),
                       authority=[_a("smart-connect.local", theirs)])
        assert r.receive(rival, False, 100) == []
        if wins:
            assert r.next_ms(100) == 150
        else:
            assert r.next_ms(100) == mdns.DEFER_MS  # all three probes again a second later
            assert r.tick(1100) and r.next_ms(1100) == 250
        assert r.status()["shared"] == "probing"


def test_a_conflict_once_claimed_probes_again_and_a_held_name_is_defended():
    r = _responder()
    _claimed(r)
    rival = _query(("smart-connect.local", w.ANY), authority=[_a("smart-connect.local", OTHER)])
    r.receive(_query((SHARED.decode(), w.A)), False, 9900)
    out = r.receive(rival, False, 10000)  # a probe: answered at once, within the second
    assert _records(out[0], 1) == {(SHARED, w.A): _ip(IP)}
    assert r.status()["shared"] == "claimed"
    r.receive(_response(_a("smart-connect.local", OTHER)), False, 11000)
    assert r.status()["shared"] == "probing" and r.status()["conflicts"] == 1
    assert r.receive(_query((SHARED.decode(), w.A)), False, 12000) == []


def test_a_restart_probes_and_announces_again():
    r = _responder()
    _claimed(r)
    r.restart(10000)
    assert r.status()["shared"] == "probing" and r.next_ms(10000) == 0
    assert (SHARED, w.ANY) in _questions(r.tick(10000)[0])
    assert r.receive(_query((SHARED.decode(), w.A)), False, 10001) == []  # not ours yet
    sent = _claimed(r, IP, 10250)
    assert r.status()["shared"] == "claimed" and len(sent) == 4  # 2 probes, 2 announcements


def test_our_own_packets_looped_back_change_nothing():
    r = _responder()
    sent = [p for _, p in _claimed(r)]
    for p in sent:
        assert r.receive(p, False, 10000) == []
    assert r.status()["shared"] == "claimed" and r.status()["conflicts"] == 0


def test_a_new_address_says_goodbye_to_the_old_then_probes_and_announces_again():
    r = _responder()
    _claimed(r)
    r.set_address("10.0.0.5")
    assert r.next_ms(5000) == 0
    bye = r.tick(5000)
    assert len(bye) == 1 and _ttls(bye[0]) == {0} and _records(bye[0])[(HOST, w.A)] == _ip(IP)
    sent = _claimed(r, "10.0.0.5", 5000)
    assert _records(sent[-1][1])[(SHARED, w.A)] == _ip("10.0.0.5")
    r.set_address(None)
    bye = r.tick(9000)
    assert _ttls(bye[0]) == {0} and _records(bye[0])[(SHARED, w.A)] == _ip("10.0.0.5")
    assert r.status()["shared"] == "off" and r.tick(9500) == [] and r.next_ms(9500) is None


def test_names_are_compared_in_place_through_pointers_without_case():
    target = w.name("smart-connect.local")
    d = b"\x05LOCAL\x00" + b"\x0dSmart-Connect\xc0\x00" + b"\xc0\x07"
    assert w.same_name(d, 7, target) and w.same_name(d, 23, target)
    assert not w.same_name(d, 0, target) and not w.same_name(d, 7, w.name("smart.local"))
    assert w.skip_name(d, 7) == 23 and w.skip_name(d, 23) == 25 and w.skip_name(d, 0) == 7
    loop = b"\xc0\x00"
    assert not w.same_name(loop, 0, target) and w.skip_name(loop, 0) == 2
    for cut in (b"\x05LOC", b"\x05LOCAL", b"\xc0", b"\x45x\x00"):
        assert not w.same_name(cut, 0, target) and w.skip_name(cut, 0) == -1


def test_hostile_packets_are_ignored():
    r = _responder()
    _claimed(r)
    loop = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"
    deep = bytearray(12 + 2 * 40)
    deep[5] = 1
    for i in range(40):  # a chain of pointers, each to the one before
        deep[12 + 2 * i:14 + 2 * i] = b"\xc0" + bytes((12 + 2 * (i - 1) if i else 12,))
    huge = b"\x00\x00\x84\x00\xff\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 200
    cut = _query((HOST.decode(), w.A))[:-3]
    for d in (b"", b"\x00" * 11, loop, bytes(deep), huge, cut, b"\xff" * 600,
              _query((HOST.decode(), w.A))[:12] + b"\x3f" + b"a" * 10):
        assert r.receive(d, False, 20000) == [] and r.receive(d, True, 20000) == []
    assert w.parse(huge) is not None and len(w.parse(huge)[2]) <= w.LIMIT


def _lan(responders, until, delivered=None):
    """Every packet any responder sends reaches all of them (itself too, as multicast
    loops back on a host), in time order."""
    now = 0
    while now < until:
        out = []
        for r in responders:
            out += r.tick(now)
        while out:
            p = out.pop(0)
            for r in responders:
                out += r.receive(p, False, now)
        waits = [r.next_ms(now) for r in responders]
        waits = [x for x in waits if x is not None]
        now += max(1, min(waits)) if waits else until


def test_two_devices_on_one_lan_keep_their_names_and_only_one_holds_the_shared():
    for rand_a, rand_b, start_b in ((b"\x00", b"\x00", 0), (b"\x40", b"\x10", 0),
                                    (b"\x00", b"\x00", 3000)):
        a = _responder("SC0001", rand_a)
        b = _responder("SC0002", rand_b)
        a.set_address(LOWER)
        if start_b:
            _lan([a], start_b)
        b.set_address(OTHER)
        _lan([a, b], start_b + 5000)
        held = [r.status()["shared"] for r in (a, b)]
        assert sorted(held) == ["claimed", "lost"], held
        if start_b:  # the first holder keeps it
            assert held == ["claimed", "lost"]
        else:  # a simultaneous probe: the later address
            assert held == ["lost", "claimed"]
        for r, name, ip in ((a, "smart-connect-sc0001.local", LOWER),
                            (b, "smart-connect-sc0002.local", OTHER)):
            out = r.receive(_query((name, w.A)), True, 99000)
            assert _records(out[0]) == {(name.encode(), w.A): _ip(ip)}
