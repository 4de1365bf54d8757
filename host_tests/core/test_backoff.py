"""Reconnect delays: exponential, jittered, capped, restartable."""
from device.backoff import Backoff


def test_delays_double_up_to_the_cap_with_half_of_each_random():
    b = Backoff(1000, 60000, rand=lambda n: 0)
    assert [b.next() for _ in range(9)] == [1000, 2000, 4000, 8000, 16000, 32000,
                                            60000, 60000, 60000]
    b = Backoff(1000, 60000, rand=lambda n: n - 1)
    assert [b.next() for _ in range(3)] == [500, 1000, 2000]
    b.reset()
    assert b.next() == 500
    for _ in range(100):  # shifts stay bounded however long the outage
        b.next()
    assert b.next() == 30000


def test_default_jitter_stays_in_range():
    b = Backoff()
    for i in range(50):
        d = b.next()
        step = min(60000, 1000 << i)
        assert step // 2 <= d <= step
