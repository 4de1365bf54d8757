"""The device around the sim's firmware, for tools/sim.py: its flash (tools/simslot.py:
slots, otadata, the bootloader), its watchdog, and why a firmware that ended starts again
(a reboot, a soft reset, a power loss, the watchdog, an error on trial); the options for
them and what they pass to the firmware."""
import argparse
import os
import signal
import threading
import time

from simslot import Flash


def arguments(ap):
    """tools/sim.py's options for the flash, the update's trial and the watchdog."""
    ap.add_argument("--update-key", metavar="PUB.pem", type=_file,
                    help="the public key the first image trusts, written into a fresh flash "
                         "(default: the development key's, .dev-keys/)")
    ap.add_argument("--reflash", action="store_true",
                    help="write this checkout's image into slot 0 and erase otadata and slot "
                         "1, as make flash does (the configuration and identity stay); done "
                         "anyway to a flash not updated since its last fill")
    ap.add_argument("--trial-ms", type=int, metavar="MS",
                    help="a new image's deadline to become healthy on trial (default 120000)")
    ap.add_argument("--settle-ms", type=int, metavar="MS",
                    help="how long a new image's services must stay up (default 10000)")
    ap.add_argument("--watchdog-ms", type=int, default=10000, metavar="MS",
                    help="reset a firmware that stopped feeding its watchdog this long "
                         "(the device's 10000; 0: no watchdog)")
    ap.add_argument("--boot-watchdog-ms", type=int, default=30000, metavar="MS",
                    help="reset a firmware that has not fed its watchdog this long after "
                         "its start (the device's boot watchdog, 30000; 0: none)")


def _file(path):
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError("no file %s" % path)
    return path


def env(a, booted):
    """The firmware's environment for the slot booted (a Booted or None) and the options."""
    out = {}
    if booted is not None:
        out.update({"SC_BOOT_SLOT": str(booted.slot), "SC_UPDATE_KEY": booted.key})
    for name, v in (("SC_TRIAL_MS", a.trial_ms), ("SC_SETTLE_MS", a.settle_ms)):
        if v is not None:
            out[name] = str(v)
    return out


# boards/sim/board.py exits with these when the firmware reboots or soft-resets
RESTARTS = {75: "reboot", 76: "soft"}
SAYS = {"reboot": "rebooting", "soft": "soft reset", "power-on": "killed, powering on again",
        "watchdog": "reset by the watchdog", "trial": "failed on trial, resetting"}


class Device:
    """What tools/sim.py does around each start of the firmware: the flash (filled when
    fresh), the bootloader, the watchdog, and why a firmware that ended starts again."""

    def __init__(self, a):
        self.flash = Flash(a.flash, a.update_key, "x86" if a.frozen32 or a.mpy32 else "x64")
        fresh = not os.path.exists(os.path.join(a.flash, "ota_0.bin"))
        if self.flash.fill(a.reflash) and not fresh:
            print("sim: flashed this checkout's image into slot 0 (%s)" % (
                "--reflash" if a.reflash else "it was not updated since its last flash"),
                flush=True)
        self.watchdog = Watchdog(a.flash, a.watchdog_ms, a.boot_watchdog_ms)
        self.power_loss = a.power_loss
        self.booted = None

    def boot(self):
        """The bootloader: the Booted it starts, printed."""
        self.booted = self.flash.boot()
        print(self.booted.line(), flush=True)
        return self.booted

    def restart(self, rc, proc):
        """The reset cause the firmware proc, which exited with rc, starts again with
        (printed), or None: the sim exits with rc. SIGKILL is the watchdog's reset, or with
        --power-loss a power loss; an error on trial resets the device (board.fatal), and
        the bootloader then rolls back."""
        if rc == -signal.SIGKILL and self.watchdog.fired(proc):
            cause = "watchdog"
        elif rc == -signal.SIGKILL and self.power_loss:
            cause = "power-on"
        elif rc in RESTARTS:
            cause = RESTARTS[rc]
        elif rc > 0 and self.flash.on_trial(self.booted.slot):
            cause = "trial"
        else:
            return None
        print("sim: firmware %s" % SAYS[cause], flush=True)
        return "reboot" if cause == "trial" else cause


class Watchdog:
    """The device's watchdog over the firmware processes tools/sim.py starts: one that has
    not fed it (boards/sim/board.py truncates the flash directory's wdt file) for ms, or not
    at all for boot_ms since its start, is killed (SIGKILL); sim.py then starts it again
    through the bootloader. 0 turns either off."""

    def __init__(self, flash_dir, ms, boot_ms):
        self._path = os.path.join(flash_dir, "wdt")
        self._ms, self._boot_ms = ms, boot_ms
        self._lock = threading.Lock()
        self._w = None  # [process, when fed last (or started), wdt's mtime then, fed, fired]
        if ms or boot_ms:
            threading.Thread(target=self._run, daemon=True).start()

    def watch(self, proc):
        """proc has just started (the watchdog armed at boot)."""
        with self._lock:
            self._w = [proc, time.monotonic(), self._fed(), False, False]

    def fired(self, proc):
        """Whether the watchdog killed proc."""
        with self._lock:
            return self._w is not None and self._w[0] is proc and self._w[4]

    def _fed(self):
        try:
            return os.stat(self._path).st_mtime_ns
        except OSError:
            return None

    def _run(self):
        step = min(ms for ms in (self._ms, self._boot_ms, 1000) if ms) / 10000
        while True:
            time.sleep(step)
            with self._lock:
                w = self._w
                if w is None or w[4] or w[0].poll() is not None:
                    continue
                now, fed = time.monotonic(), self._fed()
                if fed != w[2]:
                    w[1:4] = now, fed, True
                limit = self._ms if w[3] else self._boot_ms
                if limit and (now - w[1]) * 1000 > limit:
                    w[4] = True
                    w[0].kill()
