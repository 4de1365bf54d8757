"""Power loss at random moments of firmware updates (issue 20, docs/update.md), on the sim
with --power-loss: the firmware process is killed (SIGKILL) while an upload streams into
the other slot, right around set_boot (the end of the upload: the record and otadata
written, the answer, the reboot) and on the new image's trial boot; tools/sim.py starts it
again through its bootloader. At each kill the flash is looked at as the loss left it (sim.py
held stopped meanwhile): otadata selects a slot whose image walks whole and is signed, the
configuration and the identity are untouched. After each start the firmware answers, runs
the old or the new image, whole and signed. Every episode ends on the new image kept, or on
the old one with the update reported, and then a fresh upload succeeds.

The moments come from a seeded random.Random (SC_POWER_SEED=N repeats a run); a failure
names the seed and every kill so far."""
import hashlib
import json
import os
import random
import signal
import socket
import sys
import time

from simfw import Sim, wait_until
from tools import ROOT
from webclient import NAME, Client

sys.path.insert(0, os.path.join(ROOT, "tools"))
import release  # noqa: E402
import signing  # noqa: E402
import simslot  # noqa: E402
from device.version import VERSION  # noqa: E402
from update import ecdsa, image, otadata  # noqa: E402

TRIAL_MS = 6000
SETTLE_MS = 500
WATCHDOG_MS = 4000
KILLS = 32  # at least, over the episodes
CHUNK = 8192  # the upload is sent in pieces, a pause after each: kills land mid-stream
PAUSE = 0.004
VERSIONS = ("9.8.1", "9.8.2")  # the sim releases of this checkout the episodes swap
KILLED = ("sim: firmware killed, powering on again", "sim: firmware reset by the watchdog")


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class Device:
    """A sim with --power-loss, the test's images and what must never change."""

    def __init__(self, tmp, seed):
        self.seed = seed
        self.rng = random.Random(seed)
        self.kills = []  # (what, the moment, where the episode stood)
        self.key = str(tmp / "key.pem")
        signing.make_key(self.key)
        self.pub = str(tmp / "key.pub.pem")
        signing.write_public_pem(self.key, self.pub)
        self.images = {}  # version: image bytes
        for v in VERSIONS:
            out = str(tmp / (v + ".bin"))
            release.release("sim", v, self.key, out, 0, trust=self.pub)
            with open(out, "rb") as f:
                self.images[v] = f.read()
        self.signers = [release.trust_key(self.pub)]  # the test's key, and the first image's
        if os.path.isfile(simslot.DEV_KEY):
            self.signers.append(signing.public_key(simslot.DEV_KEY))
        self.flash = str(tmp / "flash")
        self.sim = Sim(self.flash, update_key=self.pub, trial_ms=TRIAL_MS,
                       settle_ms=SETTLE_MS, watchdog_ms=WATCHDOG_MS,
                       boot_watchdog_ms=WATCHDOG_MS, args=("--power-loss",))
        if len(self.signers) == 1:  # made by the sim's first start
            self.signers.append(signing.public_key(simslot.DEV_KEY))
        self.client = Client(self.sim, self.flash)
        self.kept = self._kept()
        self._verified = {}  # an image's SHA-256: its version
        first = self.slot_image(0)
        assert first is not None
        self.images[VERSION] = first
        self.t_upload = self.t_answer = self.t_valid = None

    # -- what is looked at --------------------------------------------------------------

    def why(self, msg=""):
        """A failure's message: the seed and the kills so far, and the sim's last output."""
        return "%s\nseed %d (SC_POWER_SEED=%d repeats it); kills: %s\n%s" % (
            msg, self.seed, self.seed, self.kills, self.sim.output()[-4000:])

    def _kept(self):
        out = {}
        names = ["config.json"] + ["identity/" + n for n in
                                   sorted(os.listdir(os.path.join(self.flash, "identity")))]
        for n in names:
            with open(os.path.join(self.flash, n), "rb") as f:
                out[n] = f.read()
        return out

    def slot_image(self, slot):
        """The image (and signature block) at the start of slot, None when there is none."""
        with open(os.path.join(self.flash, "ota_%d.bin" % slot), "rb") as f:
            data = f.read()
        end = simslot._extent(data)
        return None if end is None else data[:end]

    def verified(self, slot):
        """The version of slot's image, which must be one of the releases, walk whole and
        carry a signature of the test's key (or of the development key, the first
        image's); None when the slot holds none of them."""
        img = self.slot_image(slot)
        if img is None:
            return None
        sha = hashlib.sha256(img).digest()
        if sha not in self._verified:
            w = image.Walker()
            try:
                w.feed(memoryview(img))
                digest = w.verify()
            except ValueError:
                self._verified[sha] = None
                return None
            sig = ecdsa.block(w.signature)
            signed = sig is not None and any(ecdsa.verify(k, digest, sig) for k in self.signers)
            version = image.describe(img).version
            ok = signed and self.images.get(version) == img
            self._verified[sha] = version if ok else None
        return self._verified[sha]

    def check_flash(self, where):
        """The flash as a power loss leaves it: otadata selects a whole, signed image; the
        configuration and the identity as they were."""
        with open(os.path.join(self.flash, "otadata.bin"), "rb") as f:
            od = f.read()
        _, _, state, slot = otadata.active(od[:otadata.ENTRY],
                                           od[otadata.SECTOR:otadata.SECTOR + otadata.ENTRY], 2)
        assert self.verified(slot) is not None, self.why(
            "%s: otadata selects slot %d (state %s), whose image does not verify"
            % (where, slot, state))
        assert self._kept() == self.kept, self.why(where + ": config.json or identity/ changed")
        return slot

    def boots(self):
        return [ln for ln in self.sim.lines if ln.startswith("sim: booted slot")]

    def firmware(self, timeout=30):
        """GET /api/v1/firmware once the firmware answers."""
        got = []

        def get():
            try:
                status, body = self.client.json("GET", "/api/v1/firmware")
            except (OSError, ValueError):
                return False
            got.append(body)
            return status == 200

        wait_until(get, timeout=timeout, step=0.05)
        return got[-1]

    def settled(self, timeout=30):
        """The firmware's answer once it is no longer on trial."""
        end = time.monotonic() + timeout
        while True:
            fw = self.firmware()
            if fw["update"]["state"] != "trial":
                return fw
            assert time.monotonic() < end, self.why("still on trial: %s" % fw)
            time.sleep(0.1)

    def check_up(self, allowed, where):
        """The firmware came up again: it runs one of allowed, the image its slot holds."""
        fw = self.firmware()
        line = self.boots()[-1]
        assert fw["version"] in allowed, self.why("%s: runs %s, not one of %s"
                                                  % (where, fw["version"], allowed))
        assert line.startswith("sim: booted slot %d: version %s," % (fw["slot"],
                                                                    fw["version"])), \
            self.why("%s: %s, the firmware says %s" % (where, line, fw))
        assert self.verified(fw["slot"]) == fw["version"], self.why(
            "%s: slot %d does not hold a whole signed %s" % (where, fw["slot"], fw["version"]))
        assert self._kept() == self.kept, self.why(where + ": config.json or identity/ changed")
        return fw

    # -- the power loss -----------------------------------------------------------------

    def power_loss(self, what, moment, allowed):
        """SIGKILL to the firmware (sim.py held stopped while the flash is looked at), then
        its next start, checked. The firmware's answer after it."""
        parent = self.sim.proc.pid
        start = len(self.sim.lines)
        for _ in range(500):
            os.kill(parent, signal.SIGSTOP)
            try:
                wait_until(lambda: _proc_state(parent) == "T", timeout=5, step=0.001)
                with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
                    kids = [int(p) for p in f.read().split()]
                live = [p for p in kids if _proc_state(p) not in (None, "Z")]
                if live:  # else sim.py is between two runs of the firmware: try again
                    pid = live[0]
                    os.kill(pid, signal.SIGKILL)
                    wait_until(lambda: _proc_state(pid) in (None, "Z"),  # noqa: B023
                               timeout=5, step=0.001)
                    self.kills.append((what, moment, len(self.kills)))
                    where = "kill %d (%s at %s)" % (len(self.kills), what, moment)
                    self.check_flash(where)
                    break
            finally:
                os.kill(parent, signal.SIGCONT)
            time.sleep(0.01)
        else:
            raise AssertionError(self.why("no firmware to kill"))

        def restarted():
            lines = self.sim.lines[start:]
            at = [i for i, ln in enumerate(lines) if ln.startswith(KILLED)]
            return at and any(ln.startswith("smart-connect up") for ln in lines[at[0]:])

        try:
            wait_until(restarted, timeout=40, step=0.02)
        except TimeoutError:
            raise AssertionError(self.why(where + ": the firmware did not come up")) from None
        fw = self.check_up(allowed, where)
        self.kills[-1] += ("-> %s %s" % (fw["version"], fw["update"]["state"]),)
        return fw

    # -- uploads ------------------------------------------------------------------------

    def upload(self, img, kill=None, allowed=()):
        """POST /api/v1/firmware with img's bytes in pieces. kill: None (the answer:
        (status, body)), ("bytes", n) or ("time", s) into the body (at the latest before its
        last piece), or ("end", s) after its last byte: then the firmware's answer after
        the power loss."""
        c = self.client
        s = c.ctx.wrap_socket(socket.create_connection(("127.0.0.1", c.port), timeout=30),
                              server_hostname=NAME)
        with s:
            s.sendall(("POST /api/v1/firmware HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s"
                       "\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n"
                       "\r\n" % (NAME, c.port, c.auth, len(img))).encode())
            t0 = time.monotonic()
            sent = 0
            while sent < len(img):
                # (a time into the body that is not due before its last piece: then)
                if kill and kill[0] != "end" and (
                        sent + CHUNK >= len(img) or kill[0] == "bytes" and sent >= kill[1] or
                        kill[0] == "time" and time.monotonic() - t0 >= kill[1]):
                    return self.power_loss("upload, %d bytes sent" % sent, kill, allowed)
                s.sendall(img[sent:sent + CHUNK])
                sent += min(CHUNK, len(img) - sent)
                time.sleep(PAUSE)
            t1 = time.monotonic()
            if kill:
                time.sleep(kill[1])
                return self.power_loss("end of the upload", kill, allowed)
            answer = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        self.t_upload, self.t_answer = t1 - t0, time.monotonic() - t1
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body)

    def update(self, version):
        """A whole upload of version's image: verified, booted on trial, kept."""
        boots = len(self.boots())
        status, body = self.upload(self.images[version])
        assert (status, body) == (200, {"result": "verified", "version": version,
                                        "rebooting": True}), self.why(str(body))
        t = self.trial_boot(boots, version)
        slot = int(self.boots()[-1].split()[3][:-1])
        wait_until(lambda: self._state(slot) == otadata.VALID, timeout=30, step=0.01)
        self.t_valid = time.monotonic() - t
        fw = self.settled()
        assert fw["version"] == version and fw["update"]["state"] == "valid", self.why(
            str(fw))
        self.check_flash("after the update to " + version)
        return fw

    def trial_boot(self, boots, version):
        """Waits for the start after the boots-th on trial of version: when it was seen."""
        try:
            wait_until(lambda: len(self.boots()) > boots, timeout=30, step=0.005)
        except TimeoutError:
            raise AssertionError(self.why("no boot after the update")) from None
        t = time.monotonic()
        line = self.boots()[boots]
        assert "version %s," % version in line and line.endswith("(on trial)\n"), self.why(
            line)
        return t

    def _state(self, slot):
        with open(os.path.join(self.flash, "otadata.bin"), "rb") as f:
            od = f.read()
        _, _, state, active = otadata.active(
            od[:otadata.ENTRY], od[otadata.SECTOR:otadata.SECTOR + otadata.ENTRY], 2)
        return state if active == slot else None

    def episode(self, old, new):
        """One update from old to new with power losses in the upload, around its end and
        on the trial; it ends on new kept, or on old with the update reported (then a fresh
        upload brings new)."""
        rng, img, both = self.rng, self.images[new], (old, new)
        before = self.firmware()["update"]["state"]
        for _ in range(rng.choice((1, 2))):  # in the upload: the old image runs on
            if rng.random() < 0.5:
                kill = ("bytes", rng.randrange(len(img)))
            else:
                kill = ("time", round(rng.uniform(0, self.t_upload), 3))
            fw = self.upload(img, kill, (old,))
            assert fw["update"]["state"] == before, self.why(str(fw))
        boots = len(self.boots())
        fw = self.upload(img, ("end", round(rng.uniform(0, 1.3 * self.t_answer), 3)), both)
        trial_at = None
        if fw["version"] == old:
            # cut before otadata chose the new slot (the update interrupted, or not even
            # recorded yet), or the new image was cut on its trial boot (rolled back)
            assert fw["update"]["state"] in (before, "interrupted", "rolled-back"), \
                self.why(str(fw))
            boots = len(self.boots())
            status, body = self.upload(img)
            assert (status, body["result"]) == (200, "verified"), self.why(str(body))
            trial_at = self.trial_boot(boots, new)
        elif self.boots()[-1].endswith("(on trial)\n"):  # the new image boots on trial
            trial_at = time.monotonic()
        if trial_at is not None:  # (else the new image was kept before the power loss)
            moment = round(rng.uniform(0, 1.3 * self.t_valid), 3)
            time.sleep(max(0, trial_at + moment - time.monotonic()))
            self.power_loss("trial", ("trial", moment), both)
        fw = self.settled()
        if fw["version"] == new:
            assert fw["update"]["state"] == "valid", self.why(str(fw))
        else:
            assert fw["update"]["state"] == "rolled-back" and \
                fw["update"]["version"] == new, self.why(str(fw))
            self.check_flash("rolled back to " + old)
            self.update(new)  # a fresh upload
        self.check_flash("episode %s -> %s" % (old, new))


def test_power_loss_at_random_moments_of_updates(tmp_path):
    seed = int(os.environ.get("SC_POWER_SEED") or random.randrange(1 << 30))
    dev = Device(tmp_path, seed)
    try:
        t0 = time.monotonic()
        fw = dev.firmware()
        assert (fw["version"], fw["slot"]) == (VERSION, 0), dev.why(str(fw))
        dev.check_flash("first start")
        dev.update(VERSIONS[0])  # whole: how long an upload, its answer and a trial take
        print("upload %.2f s, answer %.2f s, valid %.2f s after the boot" % (
            dev.t_upload, dev.t_answer, dev.t_valid))
        old, new = VERSIONS
        while len(dev.kills) < KILLS:
            dev.episode(old, new)
            old, new = new, old
        dev.update(new)  # and one more, untroubled
        print("seed %d: %d kills in %.1f s: %s" % (seed, len(dev.kills),
                                                   time.monotonic() - t0, dev.kills))
    finally:
        out = dev.sim.close()
    assert "Traceback" not in out, dev.why()
