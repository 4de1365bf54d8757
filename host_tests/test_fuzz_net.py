"""Hypothesis against what the DNS and SNTP clients read from the network: any datagram,
random or a mutated valid answer, gives None or a well-formed result, never an
exception (resolve() and query() catch only OSError)."""
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dns import NAME, _a, _chain

import mutation
from net import dns, sntp

QID = 0x1234
REQ = dns.query(NAME, QID)
VALID = [_a(REQ), _chain(REQ)]


def _check(ip):
    if ip is None:
        return
    parts = ip.split(".")
    assert len(parts) == 4 and all(p.isdigit() and 0 <= int(p) <= 255 for p in parts), ip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_datagram_is_an_address_or_none(data):
    _check(dns.parse(data, QID, NAME))
    _check(dns.parse(bytes(REQ[:2]) + b"\x81\x80" + data, QID, NAME))  # past the header
    _check(dns.parse(bytes(REQ[:12]) + data, QID, NAME))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 0xFFFF))
def test_any_records_after_our_question_are_an_address_or_none(records, count):
    head = bytes(REQ[:2]) + b"\x81\x80\x00\x01" + count.to_bytes(2, "big") + bytes(4)
    _check(dns.parse(head + bytes(REQ[12:]) + records, QID, NAME))


EDITS = mutation.edits(200, 6)  # of a valid packet


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(VALID), EDITS)
def test_mutated_answers_are_an_address_or_none(answer, edits):
    _check(dns.parse(mutation.mutate(answer, edits), QID, NAME))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=48, max_size=60), st.binary(min_size=8, max_size=8))
def test_sntp_answers_with_an_originate_check_are_parsed_or_ignored(data, sent):
    assert sntp.parse(data) is None or isinstance(sntp.parse(data), int)  # the old call
    t = sntp.parse(data, sent)
    assert t is None or (isinstance(t, int) and data[24:32] == sent)
    echoed = data[:24] + sent + data[32:]
    t = sntp.parse(echoed, sent)
    assert t is None or isinstance(t, int)
