"""The soak (issue 19): the real firmware on the device gauge (tools/sim.py --frozen32, the
device's 96 KB heap) under the load of a house with integrations, for minutes, reporting
every failure by kind (docs/memory.md, "The soak").

    python host_tests/soak.py --minutes 30 [--heap 96k] [--no-frozen32] [--no-mdns]

Load (host_tests/soak_load.py): a DSMR 5 meter, one telegram a second; MQTT over mutual
TLS to a real mosquitto with a subscriber counting what arrives, and the broker restarted
halfway; 4 Modbus TCP clients at 5 Hz checking values; the UI's event stream; an API
client every 2 s and one every second on kept-alive HTTPS; a UI page load a minute; a
raw-stream reader; mDNS answered on a LAN of its own (root: a network namespace, the
whole soak inside it). Checks (soak_report.py): no failed Modbus read, no API answer
but 200 with JSON, every telegram on MQTT but those of the restart window, no stall of
the event stream or the raw stream, no traceback, no growth of the live heap.
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "core"), os.path.join(HERE, "..", "firmware", "lib")]

import soak_load as load  # noqa: E402
import soak_report as rep  # noqa: E402
from soak_lan import lan  # noqa: E402

from broker import CA, Broker  # noqa: E402
from simfw import Sim, metersim, wait_until  # noqa: E402
from support import parse_all  # noqa: E402
from webclient import Client  # noqa: E402

SERIAL, SITE = "SCSOAK", "soak"
TOPIC = "devices/%s/smart-connect/%s/" % (SITE, SERIAL)
DOWN_S = 5  # the broker's restart: down this long
GRACE_S = 10  # beyond the firmware's reconnect delay: its TLS handshake on a busy machine


class TimedSim(Sim):
    """simfw.Sim that also notes when each line of the firmware's output arrived."""

    def __init__(self, *a, **kw):
        self.stamps = []
        super().__init__(*a, **kw)

    def _collect(self):
        for line in self.proc.stdout:
            self.stamps.append(time.monotonic())
            self.lines.append(line)
            if line.startswith("sim up:"):
                self._up.set()
        self._up.set()


class BrokerRestart(threading.Thread):
    """Kills the broker at `at` seconds, starts it again DOWN_S later, and subscribes anew
    (the first subscriber's own reconnect could come later than the device's)."""

    def __init__(self, soak, at):
        super().__init__(name="broker-restart", daemon=True)
        self.soak, self.at = soak, at
        self.killed = self.up = self.subscribed = None
        self.error = None

    def run(self):
        s = self.soak
        if s.halt.wait(max(0.0, s.start + self.at - time.monotonic())):
            return
        self.killed = time.monotonic()
        s.broker.kill()
        s.subs[-1].close()
        if s.halt.wait(DOWN_S):
            return
        try:
            s.broker.start()
            self.up = time.monotonic()
            s.subs.append(s.broker.subscribe(TOPIC + "#"))
            self.subscribed = time.monotonic()
        except (RuntimeError, OSError) as e:
            self.error = e


def heap_state(st):
    """What moves the live heap by whole kilobytes at once (soak_report.GROWTH_TOLERANCE)."""
    https = st["web"]["https"]
    return "API %s, MQTT %s, %d HTTPS, %d Modbus, %d raw" % (
        "loaded" if https["api_loaded"] else "unloaded",
        "up" if st["mqtt"].get("connected") else "down", https["active"],
        st["modbus"]["clients"], st["raw"]["readers"])


class Soak:
    """One soak run: start() brings up broker, firmware and load, drive() runs it for its
    minutes, finish() drains and stops everything, judge() fills the report."""

    def __init__(self, tmp, minutes, heap, sim_args, out, restart_at, lan_ips, heap_every):
        self.tmp, self.minutes, self.heap, self.sim_args = tmp, minutes, heap, sim_args
        self.out, self.restart_at, self.lan, self.heap_every = out, restart_at, lan_ips, heap_every
        self.report = rep.Report(minutes)
        self.halt = threading.Event()
        self.frames = metersim.synthetic(int(minutes * 60) + 120)
        self.ts0 = parse_all(self.frames[0])[0][0]["ts"]
        self.start = time.monotonic()
        self.failures = load.Failures(out, self.start)
        self.broker = self.sim = self.meter = self.restart = None
        self.subs, self.loads, self.statuses = [], [], []  # statuses: (time, status)
        self._seen = 0

    def begin(self):
        ca = CA(self.tmp)
        self.broker = Broker(os.path.join(self.tmp, "broker"), ca)
        flash = os.path.join(self.tmp, "flash")
        ca.provision(flash, SERIAL)
        args = list(self.sim_args)
        if self.lan:  # the services on every address, mDNS announcing the LAN's
            args += ["--host", "0.0.0.0", "--mdns-address", self.lan[0]]
        cfg = {"MQTT": {"Enabled": True, "Broker": self.broker.url(), "Site": SITE}}
        self.sim = TimedSim(flash, cfg, heap=self.heap, args=args)
        self.sim.status_when(lambda s: s["mqtt"]["connected"], timeout=30)
        self.subs.append(self.broker.subscribe(TOPIC + "#"))
        web = Client(self.sim, flash, ca=ca.cert_path)
        f, h = self.failures, self.halt
        streams = [load.Events("events", f, h, web),
                   load.Raw("raw", f, h, self.sim.raw_port, self.frames)]
        self._run(streams)
        for s in streams:  # connected before the first telegram: each one must arrive
            s.connected.wait(30)
        self.start = self.failures.start = time.monotonic()
        self.meter = self.sim.meter(self.frames, interval=1.0, loop=False)
        self.sim.status_when(lambda s: s["meter"]["valid"] >= 1, timeout=30)
        expected = load.powers(self.frames)
        clients = [load.Modbus("modbus-%d" % i, f, h, self.sim.modbus_port, expected)
                   for i in range(4)]
        clients += [load.Api("api-2s", f, h, web, 2.0),
                    load.Api("api-1s", f, h, web, 1.0),
                    load.Page("page", f, h, web, self.lan[0] if self.lan else "127.0.0.1")]
        if self.lan:
            names = ["smart-connect-%s.local" % SERIAL.lower(), "smart-connect.local"]
            clients.append(load.Mdns("mdns", f, h, self.lan[1], self.lan[0], names))
        self._run(clients)
        self.restart = BrokerRestart(self, self.restart_at * self.minutes * 60)
        self.restart.start()

    def _run(self, loads):
        self.loads += loads
        for t in loads:
            t.start()

    def elapsed(self):
        return time.monotonic() - self.start

    def poll_status(self):
        """Takes the status lines printed since the last call (heap samples, MQTT)."""
        lines, stamps = self.sim.lines, self.sim.stamps
        n = min(len(lines), len(stamps))
        for i in range(self._seen, n):
            if lines[i].startswith("status: "):
                try:
                    st = json.loads(lines[i][8:])
                except ValueError:
                    continue
                self.statuses.append((stamps[i], st))
                h = st["heap"]
                state = heap_state(st)
                self.report.heap.append((stamps[i] - self.start, h["live"], h["peak_live"],
                                         h["free"], state))
        self._seen = n

    def drive(self):
        """Runs the load for its minutes, printing the heap every heap_every seconds."""
        end = self.start + self.minutes * 60
        next_print = self.start + self.heap_every
        while time.monotonic() < end:
            time.sleep(0.5)
            self.poll_status()
            if not self.sim.alive():
                self.report.fail("firmware exited", example=self.sim.proc.returncode)
                return
            if time.monotonic() >= next_print and self.statuses:
                next_print += self.heap_every
                self.out(self.progress())

    def progress(self):
        h = self.statuses[-1][1]["heap"]
        by = {t.name: t.ok for t in self.loads}
        return ("%4.0f s  heap live %5.1f KB  peak %5.1f KB  free %5.1f KB | telegrams %d, "
                "MQTT %d, Modbus %d, API %d, events %d, raw %d | failures %d" % (
                    self.elapsed(), h["live"] / 1024, h["peak_live"] / 1024, h["free"] / 1024,
                    len(self.meter.done), len(self.published()),
                    sum(v for k, v in by.items() if k.startswith("modbus")),
                    by["api-2s"] + by["api-1s"], by["events"], by["raw"],
                    sum(self.failures.counts.values())))

    def published(self):
        """Indices of the telegrams whose reading arrived on MQTT."""
        got = set()
        for sub in self.subs:
            for m in sub.on("data/instantaneous"):
                got.add(json.loads(m[2])["ts"] - self.ts0)
        return got

    def finish(self):
        """Stops the meter, lets the last telegram through, then halts the load."""
        self.meter.close()
        last = self.meter.done[-1][1] if self.meter.done else None
        raw = next(t for t in self.loads if t.name == "raw")
        ts = load.TELEGRAM_TS.search(self.frames[last or 0]).group(1)
        try:
            wait_until(lambda: last is None or (last in self.published() and ts in raw.seen),
                       timeout=15)
        except TimeoutError:
            pass
        self.halt.set()
        for t in self.loads + ([self.restart] if self.restart else []):
            t.join(60)
            if t.is_alive():
                self.report.fail("harness: a client did not stop", example=t.name)
        self.poll_status()

    def close(self):
        self.halt.set()
        for m in self.subs:
            m.close()
        if self.sim is not None:
            self.sim.close()
        if self.broker is not None:
            self.broker.close()

    def judge(self):
        """Everything the run saw into the report."""
        r, f = self.report, self.failures
        r.failures.update(f.counts)
        r.examples.update(f.examples)
        sent = list(self.meter.done) if self.meter else []
        r.counts["telegrams"] = len(sent)
        self.judge_mqtt(sent)
        raw = next((t for t in self.loads if t.name == "raw"), None)
        if raw is not None:
            arrived = {k for k, frame in enumerate(self.frames)
                       if load.TELEGRAM_TS.search(frame).group(1) in raw.seen}
            lost = rep.missing(sent, arrived)
            r.fail("raw telegram missing", len(lost), rep.ranges(lost))
            r.counts["raw telegrams"] = len(arrived)
        for t in self.loads:
            if t.name not in ("raw",):
                r.counts[t.name] = t.ok
        events = next((t for t in self.loads if t.name == "events"), None)
        if events is not None:
            r.counts["events"] = dict(events.by_name)
            r.notes.append("longest gap: events %.1f s, raw telegrams %.1f s"
                           % (events.max_gap, raw.max_gap))
        self.judge_firmware()

    def judge_mqtt(self, sent):
        r, rs = self.report, self.restart
        got = self.published()
        r.counts["MQTT published"] = len(got)
        window = None
        if rs is not None and rs.killed is not None:
            before = [st for t, st in self.statuses if t < rs.killed][-1]["mqtt"]
            after = [(t, st["mqtt"]) for t, st in self.statuses if rs.up and t >= rs.up]
            back = [t for t, m in after if m["connected"] and m["connects"] > before["connects"]]
            if rs.error or not after:
                r.fail("mqtt broker did not restart", example=rs.error)
            else:
                n = after[0][1]["failures"] - before["failures"]
                allowed = min(60, 2 ** n) + GRACE_S  # the backoff's step if one more fails
                took = back[0] - rs.up if back else None
                r.notes.append(
                    "broker restart: down at %.0f s for %d s; %d failed attempts, retry in "
                    "%s ms when it came back; reconnected %s after (allowed %d s)" % (
                        rs.killed - self.start, DOWN_S, n, after[0][1].get("retry_in_ms"),
                        "never" if took is None else "%.1f s" % took, allowed))
                if took is None or took > allowed:
                    r.fail("mqtt reconnect late", example="%s s" % took)
                end = max(min(back[0] if back else 1e99, rs.up + allowed), rs.subscribed)
                window = (rs.killed - 1.5, end + 1.0)
        lost = rep.missing(sent, got, lambda t: window and window[0] <= t <= window[1])
        r.counts["MQTT exempt (restart)"] = sum(
            1 for t, k in sent if window and window[0] <= t <= window[1])
        r.fail("mqtt telegram not published", len(lost), rep.ranges(lost))

    def judge_firmware(self):
        r = self.report
        output = self.sim.lines if self.sim else []
        blocks, other = rep.tracebacks(output)
        r.tracebacks = blocks
        for n, text in blocks:
            r.fail("firmware " + rep.where(text), n)
        for line in other:
            r.fail("firmware error line", example=line)
        if self.statuses:
            st = self.statuses[-1][1]
            for key in ("meter.no_heap", "meter.rejected", "raw.dropped"):
                a, b = key.split(".")
                r.fail("status " + key, st[a][b], st[a][b])
            m = st["mqtt"]
            r.fail("mqtt session lost outside the restart", max(0, m["connects"] - 2))
            r.counts["firmware"] = "MQTT sent %d skipped %d connects %d; HTTPS refused %d" % (
                m["sent"], m["skipped"], m["connects"], st["web"]["https"]["refused"])
        grew, by, state = rep.heap_grew(r.heap, self.minutes * 60)
        if grew:
            r.fail("heap growth", example="median %+d, floor %+d bytes (%s)" % (*by, state))


def run(minutes, heap="96k", sim_args=("--frozen32",), out=print, restart_at=0.5, mdns=True,
        heap_every=60):
    """Runs a soak of minutes (the broker restarted at restart_at of it); out(line) gets the
    progress and the summary. Returns a soak_report.Report."""
    with tempfile.TemporaryDirectory(prefix="sc-soak-") as tmp, \
            (lan(out) if mdns else contextlib.nullcontext()) as ips:
        out("soak: %g min on %s, heap %s, mDNS %s" % (
            minutes, "the device gauge" if "--frozen32" in sim_args else "the unix port",
            heap, "on %s" % ips[0] if ips else "off"))
        soak = Soak(tmp, minutes, heap, sim_args, out, restart_at, ips, heap_every)
        try:
            soak.begin()
            soak.drive()
            soak.finish()
        finally:
            soak.close()
        soak.judge()
        for line in soak.report.summary():
            out(line)
        return soak.report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--heap", default="96k", help="the firmware's heap (the device's: 96k)")
    ap.add_argument("--no-frozen32", action="store_true",
                    help="the 64-bit unix port with .mpy files instead of the device gauge")
    ap.add_argument("--no-mdns", action="store_true", help="leave mDNS out")
    ap.add_argument("--heap-every", type=float, default=60, metavar="S",
                    help="print the heap every S seconds")
    ap.add_argument("--heap-log", metavar="FILE",
                    help="write every heap sample to FILE (seconds, live, peak live, free, "
                         "state; tab-separated)")
    a = ap.parse_args(argv)
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # failures are ours to report
    report = run(a.minutes, a.heap, () if a.no_frozen32 else ("--frozen32",),
                 lambda line: print(line, flush=True), mdns=not a.no_mdns,
                 heap_every=a.heap_every)
    if a.heap_log:
        with open(a.heap_log, "w") as f:
            f.writelines("%.1f\t%d\t%d\t%d\t%s\n" % s for s in report.heap)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
