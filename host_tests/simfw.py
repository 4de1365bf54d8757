"""Boots the real firmware with tools/sim.py (the README's way) for integration tests."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

from tools import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))

import metersim  # noqa: E402


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Sim:
    """tools/sim.py in a subprocess with free ports; the meter is fed by the test. The
    64-bit unix port's heap figures say little about the device (twice its word size);
    the device gauge tests pass --frozen32 with the device's heap."""

    def __init__(self, flash, config=None, input="p1", heap="512k", status_every=1, args=(),
                 prefix=(), update_key=None, trial_ms=None, settle_ms=None, watchdog_ms=None,
                 boot_watchdog_ms=None):
        """prefix: a command sim.py runs under (e.g. ip netns exec NAME); update_key ...
        boot_watchdog_ms: sim.py's --update-key (the public key file the first image
        trusts), --trial-ms, --settle-ms, --watchdog-ms and --boot-watchdog-ms."""
        os.makedirs(flash, exist_ok=True)
        if config is not None:
            with open(os.path.join(flash, "config.json"), "w") as f:
                json.dump(config, f)
        (self.modbus_port, self.raw_port, self.p1_out_port, self.meter_port,
         self.https_port, self.http_port, self.control_port) = free_ports(7)
        cmd = [sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--flash", str(flash),
               "--input", input, "--modbus-port", str(self.modbus_port),
               "--raw-port", str(self.raw_port), "--p1-out-port", str(self.p1_out_port),
               "--meter-port", str(self.meter_port), "--https-port", str(self.https_port),
               "--http-port", str(self.http_port), "--status-every", str(status_every),
               "--control-port", str(self.control_port)]
        if heap:
            cmd += ["--heap", heap]
        for opt, v in (("--update-key", update_key), ("--trial-ms", trial_ms),
                       ("--settle-ms", settle_ms), ("--watchdog-ms", watchdog_ms),
                       ("--boot-watchdog-ms", boot_watchdog_ms)):
            if v is not None:
                cmd += [opt, str(v)]
        cmd += list(args)
        self.proc = subprocess.Popen(list(prefix) + cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = []
        self._up = threading.Event()
        threading.Thread(target=self._collect, daemon=True).start()
        if not self._up.wait(60):
            self.close()
            raise RuntimeError("sim did not come up:\n" + self.output())
        self.meters = []

    def _collect(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("sim up:"):
                self._up.set()
        self._up.set()

    def output(self):
        return "".join(self.lines)

    def status(self, after=None, timeout=10):
        """The firmware's next status line (printed every status_every seconds)."""
        start = len(self.lines) if after is None else after
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[start:]:
                if line.startswith("status: "):
                    return json.loads(line[8:])
            time.sleep(0.05)
        raise TimeoutError("no status line\n" + self.output())

    def status_when(self, check, timeout=15):
        """The first status line, from now on, for which check(status) is true."""
        end = time.monotonic() + timeout
        st = None
        while time.monotonic() < end:
            st = self.status(timeout=end - time.monotonic())
            if check(st):
                return st
        raise TimeoutError("last status: %s" % st)

    def control(self, command):
        """One command on tools/sim.py's control port (README); returns its answer."""
        with socket.create_connection(("127.0.0.1", self.control_port), 5) as s, \
                s.makefile("rw") as f:
            f.write(command + "\n")
            f.flush()
            return f.readline().strip()

    def meter(self, frames, **kw):
        m = metersim.MeterSim(self.meter_port, frames, **kw).start()
        self.meters.append(m)
        return m

    def firmware_pid(self):
        """The MicroPython process sim.py runs (its only child)."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return int(f.read().split()[0])

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        for m in self.meters:
            m.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        return self.output()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        out = self.close()
        assert not re.search(r"Traceback|Error", out), out


def wait_until(check, timeout=10, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(step)
