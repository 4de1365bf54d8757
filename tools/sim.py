"""Run the real firmware on the MicroPython unix port with the sim board (SPEC section 12).

    python tools/sim.py --meter corpus/dsmr/v5.txt

--flash DIR is the device filesystem, created on first use with a default config.json
and provisioned (tools/provision.py: DIR/identity, signed by a new local CA in DIR/ca);
--meter FILE is replayed in a loop by the meter simulator at the protocol's interval.
Prints one line when the firmware is up, then the firmware's own output. SIGINT or SIGTERM
(also when started in the background, where SIGINT arrives ignored) stop the firmware and
the meter simulator, freeing every port, and exit with 128 + the signal number; otherwise it
exits with the firmware's exit code. A reboot (remote command) starts the firmware again
in the same flash directory.

The flash directory is a device's (tools/simdevice.py, tools/simslot.py): slots, otadata,
a bootloader at every start but a soft reset, a watchdog; the booted slot's tree runs.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import termios
import threading
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "firmware", "lib")]

import microdot  # noqa: E402

import metersim  # noqa: E402
import provision  # noqa: E402
import simdevice  # noqa: E402
import webassets  # noqa: E402
from device import config  # noqa: E402
from net import budget  # noqa: E402

BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
# The device gauge (make frozen32): 32-bit, the firmware and the sim board frozen in.
FROZEN32 = os.path.join(BIN, "micropython-frozen32")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
BUILD = os.path.join(ROOT, "build", "sim")
# --mpy32: the development install path (.mpy files on a stock image) on the 32-bit build.
BUILD32 = os.path.join(ROOT, "build", "sim32")
# The firmware's source directories and where their .mpy files go, as on the device.
SOURCES = (("firmware", ""), ("firmware/lib", "lib"), ("boards/sim", "lib"),
           (os.path.dirname(microdot.__file__), "lib/microdot"))
# Of Microdot (pinned in requirements.txt) the firmware uses the core module only.
MICRODOT = ("microdot.py",)
# The control port's world commands and their values (button SECONDS aside).
CONTROLS = {"link": ("down", "up"), "dhcp": ("fail", "ok"), "wifi": ("lost", "back")}
# The firmware gets as many file descriptors as the device has sockets, plus what only
# the sim has: stdin/out/err, the meter port (listener and up to 2 connections), P1 out
# (listener and its one reader), one file open at a time and the serial device of --rs485
# (a UART on the device). A service that goes past its share of the budget then fails here
# as it would on the device.
FDS = 3 + budget.SOCKETS + 3 + 2 + 1 + 1


class Stopped(Exception):
    """SIGINT or SIGTERM reached the sim."""


def _stop(signum, frame):
    raise Stopped(signum)


def compile_firmware(arch="x64", build=BUILD):
    """mpy-cross every firmware file for arch (x64: this machine; x86: the 32-bit build,
    viper needs a native arch) into build: the device also loads precompiled code, and
    compiling at import time would cost the heap it is measured by.
    Package folders are kept, as on the device; .mpy files whose source is gone are
    removed, so a moved module cannot shadow its new place. The web UI is packed first
    (tools/webassets.py)."""
    webassets.ensure()
    built = set()
    for src, dst in SOURCES:
        top = os.path.join(ROOT, src)
        for folder, dirs, names in os.walk(top):
            if src == "firmware" or dst == "lib/microdot":
                dirs.clear()  # firmware/lib is its own source; Microdot has no subpackages
            out_dir = os.path.join(build, dst, os.path.relpath(folder, top))
            for name in sorted(n for n in names if n.endswith(".py") and not
                               n.startswith("manifest") and
                               (dst != "lib/microdot" or n in MICRODOT)):
                inp = os.path.join(folder, name)
                out = os.path.normpath(os.path.join(out_dir, name[:-3] + ".mpy"))
                built.add(out)
                if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(inp):
                    os.makedirs(out_dir, exist_ok=True)
                    subprocess.run([MPY_CROSS, "-march=" + arch, "-o", out, inp], check=True)
    for folder, _, names in os.walk(build):
        for name in names:
            if os.path.join(folder, name) not in built:
                os.remove(os.path.join(folder, name))


def prepare_flash(path):
    os.makedirs(path, exist_ok=True)
    cfg = os.path.join(path, "config.json")
    if not os.path.exists(cfg):
        with open(cfg, "w") as f:
            json.dump(config.DEFAULTS, f, indent=1)
    if not os.path.exists(os.path.join(path, "identity")):
        print(provision.label(provision.provision(path)), flush=True)


def serial_line(path, flash):
    """Raw mode and the configured baud rate on the serial device of --rs485, before
    each start (the firmware cannot set them on the unix port). A pty refuses parity:
    8N1 here, the parity is checked in what the ESP32 driver would apply."""
    cfg, _ = config.load(os.path.join(flash, "config.json"))
    baud = getattr(termios, "B%d" % cfg["RS485"]["Baud"])
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = baud
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    finally:
        os.close(fd)


def firmware_command(heap, frozen32=False):
    cmd = ["prlimit", "--nofile=%d" % FDS, FROZEN32 if frozen32 else MICROPYTHON]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    return cmd + ["-c", "import boot; import main"]


def firmware_env(a, meter_kind, booted=None):
    env = dict(os.environ)
    # ".frozen" is the interpreter's built-in modules (asyncio among them; with --frozen32
    # the whole firmware, which the .mpy files of --mpy32 or of the booted slot's tree when
    # it is not this checkout's (simslot.Booted.path) shadow).
    build = booted.path if booted and booted.path else BUILD32 if a.mpy32 else BUILD
    env["MICROPYPATH"] = ".frozen" if a.frozen32 and build == BUILD else os.pathsep.join(
        [build, os.path.join(build, "lib"), ".frozen"])
    env.update(simdevice.env(a, booted))
    env.update({"SC_METER": meter_kind, "SC_HOST": a.host,
                "SC_MODBUS_PORT": str(a.modbus_port), "SC_RAW_PORT": str(a.raw_port),
                "SC_P1_OUT_PORT": str(a.p1_out_port), "SC_METER_PORT": str(a.meter_port),
                "SC_STATUS_EVERY": str(a.status_every),
                "SC_NTP": "off" if a.no_ntp else (a.ntp or "host"), "SC_DNS": a.dns or "",
                "SC_FDS": str(FDS), "SC_HTTP_PORT": str(a.http_port),
                "SC_HTTPS_PORT": str(a.https_port), "SC_MDNS": mdns_address(a),
                "SC_RS485": a.rs485 or ""})
    return env


def mdns_address(a):
    """The address the firmware's mDNS responder announces, "" without --mdns: --mdns-address
    (which implies --mdns), else --host, else (--host 0.0.0.0) the address this host
    reaches the LAN from."""
    if not a.mdns and not a.mdns_address:
        return ""
    if a.mdns_address or a.host != "0.0.0.0":
        return a.mdns_address or a.host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("224.0.0.251", 5353))  # no packet: only picks the route's source address
        return s.getsockname()[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flash", default=os.path.join(ROOT, "sim-flash"),
                    help="the device filesystem (default: sim-flash/)")
    ap.add_argument("--meter", help="telegram or TIC capture to replay in a loop")
    ap.add_argument("--input", choices=("p1", "tic"),
                    help="meter port type (default: from --meter, else p1)")
    ap.add_argument("--interval", type=float, help="seconds between telegrams (default: protocol)")
    ap.add_argument("--host", default="127.0.0.1", help="address the firmware listens on")
    ap.add_argument("--modbus-port", type=int, default=1502)
    ap.add_argument("--http-port", type=int, default=8080,
                    help="plain HTTP: the landing page that links to HTTPS")
    ap.add_argument("--https-port", type=int, default=8443, help="the HTTPS API and web UI")
    ap.add_argument("--raw-port", type=int, default=8088)
    ap.add_argument("--p1-out-port", type=int, default=8089)
    ap.add_argument("--meter-port", type=int, default=8090, help="the simulated meter UART")
    ap.add_argument("--rs485", metavar="PATH",
                    help="serve the Modbus RTU slave on this serial device (e.g. one end "
                         "of a socat pty pair)")
    ap.add_argument("--heap", help="MicroPython heap size, e.g. 100k (-X heapsize=)")
    bits32 = ap.add_mutually_exclusive_group()
    bits32.add_argument("--frozen32", action="store_true",
                        help="run the 32-bit build with the firmware frozen (make frozen32): "
                             "the device's heap gauge")
    bits32.add_argument("--mpy32", action="store_true",
                        help="run the 32-bit build on .mpy files (x86, build/sim32): the "
                             "heap cost of make install's .mpy files on a stock image")
    ap.add_argument("--status-every", type=int, default=0, metavar="S",
                    help="print the status as JSON every S seconds")
    ap.add_argument("--power-loss", action="store_true",
                    help="a firmware killed with SIGKILL is a power loss: start it again")
    simdevice.arguments(ap)
    ap.add_argument("--no-ntp", action="store_true",
                    help="offer no network time: the firmware takes the meter's clock")
    ap.add_argument("--ntp", metavar="HOST:PORT",
                    help="ask this SNTP server as the device does (default: the host's clock)")
    ap.add_argument("--dns", metavar="IP:PORT",
                    help="the DNS server (default: the host's first nameserver)")
    ap.add_argument("--mdns", action="store_true",
                    help="run the mDNS responder on the real port 5353 (off by default: the "
                         "host's own responder, e.g. avahi, has it)")
    ap.add_argument("--mdns-address", metavar="IP",
                    help="the address mDNS announces, implies --mdns (default: --host, or "
                         "with --host 0.0.0.0 the address of the host's route to the LAN)")
    ap.add_argument("--control-port", type=int, default=8091,
                    help="commands, one per line, answered ok or an error: button SECONDS, "
                         "link down|up, dhcp fail|ok, wifi lost|back (0: none)")
    a = ap.parse_args(argv)
    if a.rs485 and not os.path.exists(a.rs485):
        ap.error("--rs485: no serial device %s (e.g. socat pty,raw,echo=0,link=%s "
                 "pty,raw,echo=0,link=/tmp/rs485-master)" % (a.rs485, a.rs485))

    sim = Sim(a)
    # Installed explicitly: a background job starts with SIGINT ignored, and SIGTERM's
    # default would leave the firmware running with its ports bound.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        return sim.run()
    except Stopped as e:
        print("sim: stopped by %s" % signal.Signals(e.args[0]).name, flush=True)
        return 128 + e.args[0]
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # the cleanup runs to its end
        sim.stop()


class Sim:
    """The firmware process and the meter simulator feeding it."""

    def __init__(self, a):
        self.a = a
        self.frames = metersim.load([a.meter]) if a.meter else []
        self.kind = a.input or ("tic" if self.frames and self.frames[0].rstrip().endswith(b"\x03")
                                else "p1")
        self.fw = self.meter = None
        # The world the control commands made (cable, DHCP server, Wi-Fi), replayed to a
        # restarted firmware: a soft reset does not plug the cable back in.
        self.world = {}
        self._lock = threading.Lock()
        self.device = self.booted = None
        self._control_srv = None

    def start(self, cause="power-on"):
        if self.a.rs485:
            serial_line(self.a.rs485, self.a.flash)
        env = firmware_env(self.a, self.kind, self.booted)
        env["SC_RESET_CAUSE"] = cause
        with self._lock:
            env["SC_NET"] = ",".join("%s %s" % kv for kv in self.world.items())
            self.fw = subprocess.Popen(firmware_command(self.a.heap, self.a.frozen32 or
                                                        self.a.mpy32),
                                       cwd=self.a.flash, env=env, stdout=subprocess.PIPE,
                                       stdin=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, bufsize=1)
        self.device.watchdog.watch(self.fw)

    def command(self, line):
        """One control command: passed to the firmware (boards/sim/simnet.py); returns
        "ok" or what is wrong with it."""
        w = line.split()
        if len(w) == 2 and w[0] == "button":
            try:
                if not 0 < float(w[1]) <= 3600:
                    raise ValueError
            except ValueError:
                return "error: button takes the seconds held, 0 < SECONDS <= 3600"
        elif len(w) == 2 and w[1] in CONTROLS.get(w[0], ()):
            self.world[w[0]] = w[1]
        else:
            return "error: unknown command (button SECONDS, link down|up, dhcp fail|ok, " \
                   "wifi lost|back)"
        with self._lock:
            try:
                self.fw.stdin.write(" ".join(w) + "\n")
                self.fw.stdin.flush()
            except (OSError, ValueError):
                return "error: the firmware is restarting"
        return "ok"

    def serve_control(self, port):
        self._control_srv = socket.create_server((self.a.host, port))
        threading.Thread(target=self._accept, args=(self._control_srv,), daemon=True).start()

    def _accept(self, srv):
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:  # closed by stop()
                return
            threading.Thread(target=self._control, args=(conn,), daemon=True).start()

    def _control(self, conn):
        with conn, conn.makefile("rw", encoding="utf-8", errors="replace") as f:
            for line in f:
                if len(line) > 100:
                    f.write("error: line too long\n")
                elif line.strip():
                    f.write(self.command(line) + "\n")
                f.flush()

    def start_meter(self):
        if self.frames:
            self.meter = metersim.MeterSim(self.a.meter_port, self.frames,
                                           interval=self.a.interval).start()

    def run(self):
        a = self.a
        prepare_flash(a.flash)
        if a.mpy32:
            compile_firmware("x86", BUILD32)
        elif not a.frozen32:
            compile_firmware()
        else:
            webassets.ensure()
        if (a.frozen32 or a.mpy32) and not os.path.exists(FROZEN32):
            print("sim: %s is missing: run make frozen32" % FROZEN32, flush=True)
            return 2
        self.device = simdevice.Device(a)
        up = False
        cause = "power-on"
        while True:
            if cause != "soft":
                self.booted = self.device.boot()
            self.start(cause)
            if up:
                self.start_meter()  # the meter cable reconnects to the new firmware
            for line in self.fw.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if not up and line.startswith("smart-connect up"):
                    up = True
                    self.ready()
            rc = self.fw.wait()
            cause = self.device.restart(rc, self.fw)
            if cause is None:
                return rc
            if self.meter:
                self.meter.close()
                self.meter = None

    def ready(self):
        """The firmware is up for the first time: the meter, the control port, one line."""
        a = self.a
        self.start_meter()
        if a.control_port:
            self.serve_control(a.control_port)
        h = a.host
        print("sim up: Modbus TCP %s:%d, %sHTTPS https://%s:%d, HTTP %s:%d, raw stream %s:%d, "
              "%smeter input %s:%d%s, control %s, flash %s" % (
                  h, a.modbus_port, "Modbus RTU on %s, " % a.rs485 if a.rs485 else "",
                  h, a.https_port, h, a.http_port, h, a.raw_port,
                  "P1 out %s:%d, " % (h, a.p1_out_port) if self.kind == "p1" else "", h,
                  a.meter_port, " (replaying %s)" % os.path.basename(a.meter) if a.meter
                  else "", "%s:%d" % (h, a.control_port) if a.control_port else "none",
                  a.flash), flush=True)

    def stop(self):
        """Stop the meter simulator and the firmware; returns once its ports are free."""
        if self.meter:
            self.meter.close()
        if self._control_srv is not None:
            self._control_srv.close()
        if self.fw is None or self.fw.poll() is not None:
            return
        self.fw.terminate()
        try:
            self.fw.wait(5)
        except subprocess.TimeoutExpired:
            self.fw.kill()
            self.fw.wait()

if __name__ == "__main__":
    sys.exit(main())
