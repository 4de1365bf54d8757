"""The trial boot's verdict (update/trial.py) with time and the services' state as inputs:
valid once every service that ran before the update has been up for the settle time;
failed at the deadline while one is missing; a service that drops restarts the settling."""
from update.trial import FAIL, VALID, WAIT, Trial

NEEDS = ("meter", "modbus", "https", "network", "mqtt")


def _up(*down):
    return lambda name: name not in down


def test_valid_after_every_service_has_been_up_for_the_settle_time():
    t = Trial(NEEDS, 1000, deadline_ms=120000, settle_ms=10000)
    assert t.step(1000, _up("mqtt", "network")) == WAIT
    assert t.missing == ("network", "mqtt")
    assert t.step(5000, _up()) == WAIT and t.missing == ()
    assert t.step(14999, _up()) == WAIT
    assert t.step(15000, _up()) == VALID


def test_a_service_that_drops_while_settling_starts_the_settling_again():
    t = Trial(NEEDS, 0, deadline_ms=120000, settle_ms=10000)
    assert t.step(0, _up()) == WAIT
    assert t.step(9000, _up("mqtt")) == WAIT
    assert t.step(10000, _up()) == WAIT
    assert t.step(19999, _up()) == WAIT
    assert t.step(20000, _up()) == VALID


def test_fails_at_the_deadline_naming_what_is_missing():
    t = Trial(NEEDS, 0, deadline_ms=120000, settle_ms=10000)
    assert t.step(119999, _up("mqtt")) == WAIT
    assert t.step(120000, _up("mqtt")) == FAIL
    assert t.missing == ("mqtt",)


def test_all_up_but_settling_at_the_deadline_may_finish_and_a_drop_then_fails():
    t = Trial(NEEDS, 0, deadline_ms=120000, settle_ms=10000)
    assert t.step(115000, _up()) == WAIT
    assert t.step(121000, _up()) == WAIT
    assert t.step(125000, _up()) == VALID
    t = Trial(NEEDS, 0, deadline_ms=120000, settle_ms=10000)
    assert t.step(115000, _up()) == WAIT
    assert t.step(121000, _up("https")) == FAIL


def test_only_the_services_that_ran_before_count():
    t = Trial(("meter", "modbus", "https"), 0, deadline_ms=1000, settle_ms=0)
    assert t.step(0, _up("mqtt", "network")) == VALID
