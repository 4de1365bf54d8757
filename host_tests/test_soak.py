"""The soak (host_tests/soak.py, `make soak` runs it for 30 minutes) for 3 minutes: the
firmware on the device gauge in the device's 96 KB under the load of a house with
integrations (MQTT over mutual TLS with the broker restarted at the midpoint, 4 Modbus
clients, the UI's event stream, two API clients, a page load a minute, a raw-stream
reader, mDNS), failing on any failure of any kind. It leaves no process and no network
namespace behind."""
import os

import soak


def _children():
    """The pids of this process's children (any of its threads')."""
    tasks = "/proc/%d/task" % os.getpid()
    kids = set()
    for tid in os.listdir(tasks):
        with open(os.path.join(tasks, tid, "children")) as f:
            kids.update(f.read().split())
    return kids


def test_three_minutes_of_a_house_with_integrations_in_96k_on_the_gauge():
    before = _children()
    report = soak.run(3, heap="96k", restart_at=0.5, heap_every=30)
    assert _children() <= before, "processes left behind"
    assert not os.path.exists("/run/netns/sc-soak-%d" % os.getpid())
    assert report.ok, "\n".join(report.summary())


def test_the_heap_judgement_sees_a_slow_leak_but_not_a_change_of_state():
    """180 samples a second apart, jittering by 2 KB as real ones do (soak_report)."""
    from soak_report import heap_grew

    def samples(leak_per_s, state_of=lambda t: "steady"):
        return [(t, 80000 + (t * 7919) % 2048 + int(leak_per_s * t), 0, 0, state_of(t))
                for t in range(180)]

    assert heap_grew(samples(0), 180)[0] is False
    assert heap_grew(samples(25), 180)[0] is True  # 1.5 KB a minute
    # Microdot unloaded (8 KB less) for most of the middle third: not a leak
    api = samples(0, lambda t: "API unloaded" if 60 <= t < 100 else "API loaded")
    api = [(t, live - 8192 * (s == "API unloaded"), p, f, s) for t, live, p, f, s in api]
    grew, _, state = heap_grew(api, 180)
    assert grew is False and state == "API loaded"
