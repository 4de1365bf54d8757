"""The heap a house's load needs (issue 19), measured in this run: the smallest heap on the
device gauge (32-bit, firmware frozen) that holds the 5-minute soak of host_tests/soak.py
with zero failures: MQTT over mutual TLS with a broker restart, 4 Modbus clients at 5 Hz,
the UI's event stream, two API clients reading the status (every 2 s and every 1 s), a
page load a minute, a raw-stream reader and mDNS. Goal: <= 80 KB, so that at least 16 KB
of the device's 96 KB remain for a firmware update's stream.

Bisected in 2 KB steps between the peak live heap of a run in the device's 96 KB (no heap
can hold less) and 96 KB; each step is a whole 5-minute soak. `SOAK_MINUTES` changes the
length (a shorter soak says less).
"""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "host_tests", "core")]

import soak  # noqa: E402

MINUTES = float(os.environ.get("SOAK_MINUTES", 5))
DEVICE_KB = 96
GOAL_KB = 80
STEP_KB = 2


def holds(kb, log):
    report = soak.run(MINUTES, "%dk" % kb, out=log, heap_every=MINUTES * 60)
    failures = ", ".join("%d %s" % (n, k) for k, n in report.failures.most_common(3))
    print("  %d KB: %s" % (kb, "holds" if report.ok else "fails (%s)" % failures), flush=True)
    return report


def main():
    quiet = [].append  # the soak's own lines: only the verdicts are printed here
    print("Soak of %g min on the device gauge, smallest heap that holds it:" % MINUTES)
    full = holds(DEVICE_KB, quiet)
    if not full.ok:
        print("  does not hold in the device's %d KB" % DEVICE_KB)
        return
    peak = max(s[2] for s in full.heap)
    lo = (peak // 1024) // STEP_KB * STEP_KB  # cannot hold: the live heap alone is larger
    hi = DEVICE_KB
    while hi - lo > STEP_KB:
        mid = (lo + hi) // 2 // STEP_KB * STEP_KB
        if holds(mid, quiet).ok:
            hi = mid
        else:
            lo = mid
    print("Smallest heap on the device gauge that holds the %g-minute soak with zero "
          "failures: %d KB (peak live %.1f KB in %d KB; goal <= %d KB: %s)"
          % (MINUTES, hi, peak / 1024, DEVICE_KB, GOAL_KB,
             "met" if hi <= GOAL_KB else "NOT MET"))


if __name__ == "__main__":
    main()
