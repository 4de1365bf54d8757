"""Decode raw meter bytes: one JSON reading per valid telegram or TIC frame on stdout,
one line per refused one on stderr; exit 1 when nothing valid was found. Each file is
one capture: a frame cut at its end is reported as incomplete, but a DSMR 2.2/3.0
telegram without end line whose last line is complete is decoded there.

Runs unchanged on CPython and the MicroPython unix port (same firmware code, same JSON):
    python tools/decode.py FILE...        micropython tools/decode.py FILE...
Options: --repeat N parses each frame N more times and prints the time per frame on
stderr; --now EPOCH is the device clock for frames without a meter time (default: now).
"""
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../firmware/lib")

from meter import reading  # noqa: E402
from meter.decoder import INCOMPLETE, Decoder  # noqa: E402
from meter.framer import DSMR, TIC  # noqa: E402


def _ticks():
    """Microseconds from a monotonic clock on either interpreter."""
    try:
        return time.ticks_us()
    except AttributeError:
        return int(time.perf_counter() * 1000000)


def _elapsed(t0):
    try:
        return time.ticks_diff(time.ticks_us(), t0)
    except AttributeError:
        return _ticks() - t0


def _usage():
    sys.stderr.write("usage: decode.py [--repeat N] [--now EPOCH] FILE...\n")
    sys.exit(2)


def main(argv):
    repeat = 0
    now = int(time.time())
    files = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--repeat", "--now"):
            if i + 1 >= len(argv):
                _usage()
            try:
                value = int(argv[i + 1])
            except ValueError:
                _usage()
            if a == "--repeat":
                repeat = value
            else:
                now = value
            i += 2
        elif a.startswith("-"):
            _usage()
        else:
            files.append(a)
            i += 1
    if not files:
        _usage()

    dec = None
    count = [0]

    def on_reading(r, raw, buf, n):
        count[0] += 1
        sys.stdout.write(reading.to_json(r, raw=raw) + "\n")
        if repeat:
            kind = TIC if r["protocol"].startswith("tic") else DSMR
            t0 = _ticks()
            for _ in range(repeat):
                dec.parse(kind, buf, n)
            us = _elapsed(t0) / repeat
            sys.stderr.write("%s: %.1f us per %s (%d bytes)\n"
                             % (r["protocol"], us, "telegram" if kind == DSMR else "frame", n))

    def on_reject(kind, reason, buf, n):
        what = "telegram" if kind == DSMR else "frame"
        sys.stderr.write("%s %s (%d bytes): %s\n" % (
            "cut" if reason == INCOMPLETE else "rejected", what, n, reason))

    dec = Decoder(on_reading, on_reject, raw=True)
    for name in files:
        with open(name, "rb") as f:
            while True:
                chunk = f.read(4096)
                if not chunk:
                    break
                dec.feed(chunk, now)
        dec.end()
    f = dec.framer
    if f.oversized or f.dropped:
        sys.stderr.write("framing: %d oversized, %d cut short\n" % (f.oversized, f.dropped))
    return 0 if count[0] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
