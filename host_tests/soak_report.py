"""What a soak (host_tests/soak.py) found: failures by kind, the firmware's tracebacks,
which telegrams reached MQTT and the raw stream, and whether the live heap grew."""
import collections
import dataclasses
import re
import statistics

# The live heap "grows" when, over the last two-thirds of the run (the first third is
# start-up: buffers, TLS sessions and the API's modules settle there), both the median and
# the floor (10th percentile) of the last third lie more than this above the middle
# third's. A sample is the heap right after the firmware's collection every second (the
# status is printed then) plus what its tasks hold at that instant (an answer, a TLS record
# in flight): single samples jump by kilobytes, and the median alone drifts by one or two
# as the API clients' requests (every 1 and 2 s) slide against the 1 s status, while the
# floor alone is a few samples' chance; a leak raises both. Like is compared with like:
# samples go by the state that moves the heap by whole kilobytes at once (Microdot and the
# API loaded or not: 8 KB; MQTT up or not: 10 KB; each open HTTPS connection, Modbus client
# and raw reader: 1-3.5 KB), and the state most samples share decides, so a third that
# spent more time with a client reconnecting does not pass for a leak. 1 KB is 1 % of the
# device's heap; a leak of a few bytes per telegram (thousands a soak) shows above it.
GROWTH_TOLERANCE = 1024


@dataclasses.dataclass
class Report:
    """A soak's result: ok when it found no failure of any kind."""

    minutes: float
    failures: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    examples: dict = dataclasses.field(default_factory=dict)
    tracebacks: list = dataclasses.field(default_factory=list)  # (count, text)
    heap: list = dataclasses.field(default_factory=list)  # (s, live, peak, free, state)
    counts: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return not self.failures

    def fail(self, kind, count=1, example=None):
        if count:
            self.failures[kind] += count
            if example is not None:
                self.examples.setdefault(kind, []).append((None, str(example)[:300]))

    def summary(self):
        """The closing lines: counts, notes, heap, failures by kind, tracebacks, verdict."""
        lines = ["counts: " + ", ".join("%s %s" % kv for kv in self.counts.items())]
        lines += self.notes
        lines += heap_summary(self.heap, self.minutes * 60)
        if self.failures:
            lines.append("failures by kind:")
        for kind, n in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0])):
            ex = self.examples.get(kind) or []
            lines.append("  %6d  %s" % (n, kind))
            for t, detail in ex[:2]:
                lines.append("          %s%s" % ("" if t is None else "at %.0f s: " % t,
                                                 detail))
        for n, text in self.tracebacks:
            lines.append("firmware traceback, %d times:" % n)
            lines += ["  | " + line for line in text.splitlines()]
        lines.append("verdict: %s" % ("PASS" if self.ok else "FAIL (%d failures of %d kinds)"
                                      % (sum(self.failures.values()), len(self.failures))))
        return lines


def thirds(samples, duration):
    """{state: (live samples of the middle third, of the last third)}."""
    out = {}
    for t, live, _, _, state in samples:
        if t >= duration / 3:
            out.setdefault(state, ([], []))[t >= 2 * duration / 3].append(live)
    return out


def floor(xs):
    return sorted(xs)[len(xs) // 10]


def heap_grew(samples, duration):
    """(grew, (median growth, floor growth) in bytes, state) over the last two-thirds in
    the state most samples share; grew None when no state has 10 samples in both thirds."""
    split = thirds(samples, duration)
    both = [(len(m) + len(la), s) for s, (m, la) in split.items() if len(m) >= 10
            and len(la) >= 10]
    if not both:
        return None, (0, 0), None
    state = max(both)[1]
    mid, last = split[state]
    by = (statistics.median(last) - statistics.median(mid), floor(last) - floor(mid))
    return min(by) > GROWTH_TOLERANCE, by, state


def heap_summary(samples, duration):
    if not samples:
        return ["heap: no status line"]

    def kb(xs):
        return ("median %.1f, floor %.1f, %.1f-%.1f KB, %d samples" % (
            statistics.median(xs) / 1024, floor(xs) / 1024, min(xs) / 1024, max(xs) / 1024,
            len(xs)) if xs else "no samples")

    lines = ["heap live after collection by state, middle third / last third of the run:"]
    rare = 0
    for state, (mid, last) in sorted(thirds(samples, duration).items()):
        if len(mid) + len(last) < 10:
            rare += len(mid) + len(last)
            continue
        lines.append("  %s:\n    %s / %s" % (state, kb(mid), kb(last)))
    if rare:
        lines.append("  (%d samples in states with fewer than 10)" % rare)
    grew, by, state = heap_grew(samples, duration)
    lines.append("  %s; peak live %.1f KB, least free %.1f KB" % (
        "too short to judge growth" if grew is None else
        "%s (%s): median %+.0f, floor %+.0f bytes, tolerance %d"
        % ("GREW" if grew else "no growth", state, by[0], by[1], GROWTH_TOLERANCE),
        max(s[2] for s in samples) / 1024, min(s[3] for s in samples) / 1024))
    return lines


def tracebacks(lines):
    """[(count, text)] of each distinct traceback in the firmware's output (the sizes of
    failed allocations aside), most frequent first, and the other lines naming an error."""
    found = collections.Counter()
    first = {}
    other = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\n")
        if line.startswith("Traceback (most recent call last)"):
            block = [line]
            i += 1
            while i < len(lines) and lines[i].startswith(" "):
                block.append(lines[i].rstrip("\n"))
                i += 1
            if i < len(lines):  # the exception itself
                block.append(lines[i].rstrip("\n"))
                i += 1
            text = "\n".join(block)
            key = re.sub(r"allocating \d+ bytes", "allocating N bytes", text)
            found[key] += 1
            first.setdefault(key, text)
            continue
        if re.search(r"MemoryError|Error:|Exception", line) and not line.startswith("status:"):
            other.append(line)
        i += 1
    return [(n, first[k]) for k, n in found.most_common()], other


def ranges(indices):
    """'3-7, 12' of sorted telegram indices: a short way to say which were missing."""
    out = []
    for k in sorted(indices):
        if out and out[-1][1] == k - 1:
            out[-1][1] = k
        else:
            out.append([k, k])
    text = ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in out[:10])
    return text + (", ..." if len(out) > 10 else "")


def missing(sent, arrived, exempt=lambda t: False):
    """Indices of telegrams sent ((time, index) from metersim) that did not arrive, except
    those sent at a time exempt(time) says may be lost."""
    return [k for t, k in sent if k not in arrived and not exempt(t)]


def where(traceback):
    """'MemoryError in web/api.py line 21 (_json) from line 150 (status)' of a traceback:
    its exception's type, innermost frame and the frame that called it."""
    lines = traceback.splitlines()
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', traceback)
    exc = lines[-1].split(":")[0]
    if not frames:
        return exc
    f, n, fn = frames[-1]
    text = "%s in %s line %s (%s)" % (exc, f, n, fn)
    if len(frames) > 1:
        f2, n2, fn2 = frames[-2]
        text += " from %sline %s (%s)" % ("" if f2 == f else f2 + " ", n2, fn2)
    return text
