"""Firmware updates end to end on the sim (tools/sim.py as a device: two slots, otadata, the
bootloader at every start, a watchdog; docs/update.md): signed sim images of modified
copies of this checkout posted to POST /api/v1/firmware over HTTPS, booted on trial and
kept once the services are back; images that crash, hang or never become healthy rolled
back; refused images changing nothing. Keys are made at run time."""
import json
import os
import shutil
import socket
import sys

import pytest
from pymodbus.client import ModbusTcpClient
from test_sim_modbus import EMPRO, expected, values

from simfw import Sim, metersim, wait_until
from support import corpus, parse_one
from tools import ROOT
from webclient import NAME, Client

sys.path.insert(0, os.path.join(ROOT, "tools"))
import appimage  # noqa: E402
import signing  # noqa: E402
import simboot  # noqa: E402
from device.version import VERSION  # noqa: E402

TRIAL_MS = 8000  # a new image's deadline on trial (the device's: 120 s)
SETTLE_MS = 1000
WATCHDOG_MS = 3000  # and the boot watchdog's (the device's: 10 s and 30 s)
SLOT_SIZE = simboot.table()["ota_0"][3]  # boards/esp32-common/partitions.csv
TELEGRAM = "dsmr/dsmr502_spec_example.txt"
FRAMES = metersim.split(corpus(TELEGRAM))
BOOM = "boom: this image fails at boot"
IGNORE = shutil.ignore_patterns(".venv", "build", ".git", ".dev-keys", "sim-flash", "*.mpy",
                                "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
                                ".hypothesis")


def _tree(dst, version, edits):
    """A copy of this checkout at dst whose device/version.py says version, with edits:
    (path, text, replacement), each text found once."""
    shutil.copytree(ROOT, dst, ignore=IGNORE)
    for path, old, new in [("firmware/lib/device/version.py", '"%s"' % VERSION,
                            '"%s"' % version)] + list(edits):
        p = os.path.join(dst, path)
        with open(p) as f:
            text = f.read()
        assert text.count(old) == 1, (path, old)
        with open(p, "w") as f:
            f.write(text.replace(old, new))
    return dst


class Kit:
    """The test's keys and its images, each built once."""

    def __init__(self, d):
        self.dir = d
        self.key, self.other = str(d / "key.pem"), str(d / "other.pem")
        signing.make_key(self.key)
        signing.make_key(self.other)
        self.pub = str(d / "key.pub.pem")
        signing.write_public_pem(self.key, self.pub)

    def sim(self, name, version, secure=1, edits=None, key=None):
        """A sim release: of this checkout (edits None) or of a modified copy, signed with
        key (the test's by default) and trusting the test's key."""
        import release  # tools/release.py

        src = None if edits is None else _tree(str(self.dir / name), version, edits)
        out = str(self.dir / (name + ".bin"))
        release.release("sim", version, key or self.key, out, secure, source=src,
                        trust=self.pub)
        with open(out, "rb") as f:
            return f.read()

    def esp32(self, board, version):
        """A release for an ESP32 board of a synthetic app image, signed with the test's
        key."""
        import release

        app, out = str(self.dir / "app.bin"), str(self.dir / (board + ".bin"))
        with open(app, "wb") as f:
            f.write(appimage.build("1.0.0", 0, "sim", ((appimage.DROM, bytes(4096)),)))
        release.release(board, version, self.key, out, 1, app=app)
        with open(out, "rb") as f:
            return f.read()


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return Kit(tmp_path_factory.mktemp("update-kit"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory, kit):
    """A sim whose first image (this checkout, as make flash writes it) trusts the test's
    key, with a short trial and watchdog; a meter feeds it."""
    flash = tmp_path_factory.mktemp("update") / "flash"
    s = Sim(flash, update_key=kit.pub, trial_ms=TRIAL_MS, settle_ms=SETTLE_MS,
            watchdog_ms=WATCHDOG_MS, boot_watchdog_ms=WATCHDOG_MS)
    try:
        s.flash = str(flash)
        s.client = Client(s, flash)
        s.meter(FRAMES, interval=0.5)
        yield s
    finally:
        out = s.close()
    # The crashing image's traceback is the only one.
    assert out.count("Traceback") == out.count("RuntimeError: " + BOOM), out


def firmware(sim, timeout=30):
    """GET /api/v1/firmware, once the sim answers (it may be restarting)."""
    got = []

    def get():
        try:
            status, body = sim.client.json("GET", "/api/v1/firmware")
        except OSError:
            return False
        got.append(body)
        return status == 200

    wait_until(get, timeout=timeout, step=0.1)
    return got[-1]


def firmware_when(sim, check, timeout=30):
    last = []

    def ok():
        last[:] = [firmware(sim, timeout)]
        return check(last[0])

    try:
        wait_until(ok, timeout=timeout, step=0.2)
    except TimeoutError:
        raise TimeoutError("last: %s\n%s" % (last, sim.output()[-3000:])) from None
    return last[0]


def post(sim, img):
    status, _, data = sim.client.request("POST", "/api/v1/firmware", body=bytes(img),
                                         headers={"Content-Type": "application/octet-stream"})
    return status, json.loads(data)


def raw_post(sim, length, data, close=False):
    """POST /api/v1/firmware announcing length bytes and sending data: (status, body)
    of the answer, or None when close (the client goes without reading it)."""
    c = sim.client
    s = c.ctx.wrap_socket(socket.create_connection(("127.0.0.1", c.port), timeout=15),
                          server_hostname=NAME)
    with s:
        s.sendall(("POST /api/v1/firmware HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                   % (NAME, c.port, c.auth, length)).encode() + data)
        if close:
            return None
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def ups(sim):
    return sim.output().count("smart-connect up")


def back(sim, n, timeout=30):
    """Waits for the firmware's (n + 1)th start to be up; a meter cable for it."""
    wait_until(lambda: ups(sim) > n, timeout=timeout)
    sim.meter(FRAMES, interval=0.5)


def modbus_values(sim):
    want = {a: expected(parse_one(TELEGRAM), *EMPRO[a]) for a in EMPRO}
    client = ModbusTcpClient("127.0.0.1", port=sim.modbus_port)
    assert client.connect()
    try:
        wait_until(lambda: values(client, EMPRO, True, 3) == want, timeout=10)
    finally:
        client.close()


def update(sim, img, version, slot, settle=True):
    """POSTs img, which verifies; the sim boots it on trial in slot. settle: a meter for
    it, and the image kept."""
    n = ups(sim)
    status, body = post(sim, img)
    assert (status, body) == (200, {"result": "verified", "version": version,
                                    "rebooting": True}), body
    if settle:
        back(sim, n)
    else:
        wait_until(lambda: ups(sim) > n, timeout=30)
    assert "sim: booted slot %d: version %s" % (slot, version) in sim.output()
    if settle:
        return firmware_when(sim, lambda fw: fw["update"]["state"] == "valid")


def test_an_update_runs_on_trial_is_kept_and_the_next_one_goes_back(sim, kit):
    fw = firmware(sim)
    assert (fw["version"], fw["slot"], fw["secure_version"], fw["board"]) == (VERSION, 0, 0,
                                                                              "sim")
    assert fw["update"]["state"] == "idle" and fw["previous"] is None
    sim.status_when(lambda st: st["meter"]["fresh"])  # the meter is among what must return
    marked = kit.sim("marked", "9.1.0", edits=[(
        "firmware/main.py", "import board\n", "import board\n\nprint('update marker 9.1.0')\n")])
    update(sim, marked, "9.1.0", 1, settle=False)
    assert "update marker 9.1.0" in sim.output()
    line = [ln for ln in sim.lines if ln.startswith("sim: booted slot 1")][-1]
    assert line.endswith("(on trial)\n") and "this checkout" not in line
    fw = firmware(sim)
    assert (fw["version"], fw["slot"], fw["secure_version"], fw["previous"]) == (
        "9.1.0", 1, 1, VERSION)
    assert fw["update"] == {"state": "trial", "version": "9.1.0"}
    # No update while on trial: the meter is not back yet, so the trial lasts.
    back_img = kit.sim("back", "9.2.0")
    status, body = post(sim, back_img)
    assert status == 409 and body["error"] == "update:trial", body
    sim.meter(FRAMES, interval=0.5)
    fw = firmware_when(sim, lambda fw: fw["update"]["state"] == "valid")
    assert fw["update"]["version"] == "9.1.0" and fw["version"] == "9.1.0"
    st = sim.client.json("GET", "/api/v1/status")[1]
    assert st["device"]["version"] == "9.1.0" and st["device"]["reset_cause"] == "reboot"
    modbus_values(sim)
    # The next image, signed with the key the running image trusts, goes to slot 0.
    fw = update(sim, back_img, "9.2.0", 0)
    assert (fw["version"], fw["slot"], fw["previous"]) == ("9.2.0", 0, "9.1.0")
    assert "sim: booted slot 0: version 9.2.0, this checkout (on trial)" in sim.output()
    modbus_values(sim)


def test_going_back_to_the_previous_version_is_an_explicit_action(sim, kit):
    fw = firmware_when(sim, lambda fw: fw["update"]["state"] == "valid")
    assert (fw["version"], fw["slot"], fw["previous"]) == ("9.2.0", 0, "9.1.0")
    n = ups(sim)
    status, body = sim.client.json("POST", "/api/v1/firmware/previous")
    assert (status, body) == (200, {"result": "previous", "version": "9.1.0",
                                    "rebooting": True}), body
    back(sim, n)
    assert "sim: booted slot 1: version 9.1.0" in sim.output()
    fw = firmware_when(sim, lambda fw: fw["update"]["state"] == "valid")
    assert (fw["version"], fw["slot"], fw["previous"]) == ("9.1.0", 1, "9.2.0")
    modbus_values(sim)


def _secured(sim, kit):
    """The sim runs a kept image of security version 1 (the test above leaves it so)."""
    fw = firmware_when(sim, lambda fw: fw["update"]["state"] != "trial")
    if fw["secure_version"] < 1:
        update(sim, kit.sim("back", "9.2.0"), "9.2.0", 1 - fw["slot"])
    return firmware(sim)


def _snapshot(sim, slot):
    f = sim.flash
    names = ["ota_%d.bin" % slot, "otadata.bin", "config.json"] + [
        "identity/" + n for n in sorted(os.listdir(os.path.join(f, "identity")))]
    out = {}
    for n in names:
        with open(os.path.join(f, n), "rb") as fh:
            out[n] = fh.read()
    return out


def _first_byte(sim, slot):
    with open(os.path.join(sim.flash, "ota_%d.bin" % slot), "rb") as f:
        return f.read(1)[0]


def test_refused_images_change_nothing(sim, kit):
    fw = _secured(sim, kit)
    slot, version = fw["slot"], fw["version"]
    before = _snapshot(sim, slot)
    boots = sim.output().count("sim: booted")
    good = kit.sim("lower", "9.3.0", secure=1)
    changed = bytearray(good)
    changed[len(good) // 2] ^= 0x40
    cases = [  # the first is streamed whole, then refused: the other slot's head is erased
        ("another key", kit.sim("other-key", "9.3.0", key=kit.other), 400, "signature"),
        ("unsigned", good[:-68], 400, "size"),
        ("one byte changed", bytes(changed), 400, "checksum"),
        ("another board", kit.esp32("wt32-eth01", "9.3.0"), 400, "board"),
        ("a lower security version", kit.sim("lower0", "9.3.0", secure=0), 400,
         "security-version"),
        ("larger than a slot", None, 400, "size"),
    ]
    for what, img, code, check in cases:
        if img is None:  # announced, never sent: the answer comes all the same
            status, body = raw_post(sim, SLOT_SIZE + 1, b"")
        else:
            status, body = post(sim, img)
        assert (status, body["error"]) == (code, "update:" + check), (what, body)
        assert _snapshot(sim, slot) == before, what
        assert _first_byte(sim, 1 - slot) != 0xE9, what
        fw = firmware(sim)
        assert (fw["version"], fw["slot"]) == (version, slot), what
        assert fw["update"]["state"] == "refused", (what, fw)
        assert fw["update"]["why"].startswith(check.replace("-", " ")), (what, fw)
    # Cut short: the client announces the whole image, sends half and goes.
    raw_post(sim, len(good), good[:len(good) // 2], close=True)
    fw = firmware_when(sim, lambda fw: fw["update"]["state"] == "failed")
    assert fw["update"]["why"].startswith(("length", "connection")), fw
    assert _snapshot(sim, slot) == before and _first_byte(sim, 1 - slot) != 0xE9
    assert sim.output().count("sim: booted") == boots  # nothing restarted


def _rolled_back(sim, kit, img, version, says, why, comes_up=False):
    """img verifies, boots on trial, fails; the previous image runs again and says so.
    comes_up: the image starts its services (a meter is connected to it)."""
    fw = _secured(sim, kit)
    old, slot = fw["version"], fw["slot"]
    n = ups(sim)
    status, body = post(sim, img)
    assert status == 200 and body["version"] == version, body
    if comes_up:
        back(sim, n)
        n += 1
    fw = firmware_when(sim, lambda fw: fw["update"]["state"] == "rolled-back", timeout=40)
    assert (fw["version"], fw["slot"], fw["previous"]) == (old, slot, version)
    assert fw["update"]["version"] == version and fw["update"]["why"].startswith(why), fw
    out = sim.output()
    assert "sim: booted slot %d: version %s, tree" % (1 - slot, version) in out
    assert "sim: firmware " + says in out
    assert sim.client.json("GET", "/api/v1/status")[1]["device"]["version"] == old
    back(sim, n)  # a meter for the next update's needs


def test_an_image_that_crashes_at_boot_is_rolled_back(sim, kit):
    img = kit.sim("crash", "9.4.0", edits=[(
        "firmware/lib/app.py", "    try:\n        asyncio.run(App().run())",
        "    try:\n        raise RuntimeError(%r)\n        asyncio.run(App().run())" % BOOM)])
    _rolled_back(sim, kit, img, "9.4.0", "failed on trial, resetting",
                 "it did not start: it crashed, hung or lost power on trial")


def test_an_image_that_hangs_is_reset_by_the_watchdog_and_rolled_back(sim, kit):
    img = kit.sim("hang", "9.5.0", edits=[(
        "firmware/main.py", "import board\n", "import board\n\nwhile True:\n    pass\n")])
    _rolled_back(sim, kit, img, "9.5.0", "reset by the watchdog",
                 "it did not start: it crashed, hung or lost power on trial")
    st = sim.client.json("GET", "/api/v1/status")[1]
    assert st["device"]["reset_cause"] == "watchdog"


def test_an_image_that_never_becomes_healthy_is_rolled_back(sim, kit):
    img = kit.sim("no-modbus", "9.6.0", edits=[(
        "firmware/lib/app.py", "        await self.modbus.start(board.MODBUS_PORT, board.HOST)\n",
        "")])
    _rolled_back(sim, kit, img, "9.6.0", "rebooting",
                 "not healthy within %d s: modbus did not come back" % (TRIAL_MS // 1000),
                 comes_up=True)
