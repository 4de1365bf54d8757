"""Hypothesis against what the mDNS responder reads from the LAN: any datagram, random or
a mutated valid query, probe or response, in every state of the shared name, gives no
exception, at most one answer that is itself a well-formed packet, and a parser that stays
inside its limits (a crash found here becomes a case in core/test_mdns.py)."""
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz_net import EDITS
from test_mdns import IP, OTHER, _a, _claimed, _query, _responder, _response

from mutation import mutate
from net import mdns
from net import mdns_wire as w

VALID = [
    _query(("smart-connect.local", w.A), ("smart-connect-sc0001.local", w.ANY)),
    _query(("_http._tcp.local", w.PTR), qid=7),
    _query(("smart-connect.local", w.ANY), authority=[_a("smart-connect.local", OTHER)]),
    _response(_a("smart-connect.local", OTHER), _a("smart-connect-sc0001.local", OTHER)),
]


def _responders():
    probing = _responder()
    probing.set_address(IP)
    probing.tick(0)
    probing.tick(0)
    claimed = _responder()
    _claimed(claimed)
    return probing, claimed


def _feed(d):
    parsed = w.parse(d)
    assert parsed is None or len(parsed[2]) <= w.LIMIT and len(parsed[3]) <= w.LIMIT
    for r in _responders():
        for legacy in (False, True):
            out = r.receive(d, legacy, 50000)
            assert len(out) <= 1
            for p in out:
                parsed = w.parse(p)
                assert parsed is not None and parsed[1] & 0x8400 == 0x8400 and parsed[3]
        assert r.status()["shared"] in (mdns.PROBING, mdns.CLAIMED, mdns.LOST)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_datagram_is_ignored_or_answered_well(data):
    _feed(data)
    _feed(VALID[0][:4] + data)  # a query's header, then anything


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_any_records_after_a_header_with_any_counts(records, qd, an):
    _feed(b"\x00\x00\x84\x00" + qd.to_bytes(2, "big") + an.to_bytes(2, "big") + bytes(4) +
          records)
    _feed(b"\x00\x00\x00\x00" + qd.to_bytes(2, "big") + bytes(2) + an.to_bytes(2, "big") +
          bytes(2) + records)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(VALID), EDITS)
def test_mutated_packets_are_ignored_or_answered_well(packet, edits):
    _feed(mutate(packet, edits))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 130))
def test_names_anywhere_in_any_bytes_compare_and_skip_without_error(data, at):
    for target in (w.name("smart-connect.local"), w.name("a")):
        assert w.same_name(data, at, target) in (True, False)
    end = w.skip_name(data, at)
    assert end == -1 or at < end <= len(data)
