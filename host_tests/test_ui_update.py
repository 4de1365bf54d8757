"""The web UI's firmware card and upload (docs/update.md) in Chromium (harness:
test_ui_chromium.py): images the device refuses, shown with its reason and nothing changed;
a signed release it installs, followed through the restart to the version now running.
Keys are made at run time in tmp_path; the sim's first image trusts one of them
(tools/sim.py --update-key)."""
import collections
import os
import random
import re
import sys

import pytest
import test_ui_chromium as ui

from simfw import Sim
from tools import ROOT
from webclient import NAME, Client, password

sys.path.insert(0, os.path.join(ROOT, "tools"))
import release  # noqa: E402
import signing  # noqa: E402

browser, api = ui.browser, ui.api  # the fixture (on this file's device) and the API helper

NEW = "9.9.9"

Keys = collections.namedtuple("Keys", "trusted trusted_pub other")


@pytest.fixture
def keys(tmp_path):
    """The key the device trusts (private and public PEM) and one it does not."""
    folder = tmp_path / "keys"
    folder.mkdir()
    k = Keys(str(folder / "trusted.pem"), str(folder / "trusted.pub.pem"),
             str(folder / "other.pem"))
    signing.make_key(k.trusted)
    signing.make_key(k.other)
    signing.write_public_pem(k.trusted, k.trusted_pub)
    return k


@pytest.fixture
def device(tmp_path, keys):
    """The sim, its first image trusting keys.trusted; a trial settles in 2 s (the
    device's 10 s)."""
    flash = tmp_path / "flash"
    with Sim(flash, update_key=keys.trusted_pub, settle_ms=2000) as s:
        s.flash = flash
        s.client = Client(s, flash)
        s.pw = password(flash)
        s.ca = os.path.join(str(flash), "ca", "ca.crt")
        s.url = "https://%s:%d/" % (NAME, s.https_port)
        yield s


# GET /api/v1/firmware's update object -> the card's words
STATES = (
    ({"state": "idle", "version": None, "why": None}, "none"),
    ({"state": "receiving", "received": 4096, "total": 16384, "version": NEW},
     "receiving (9.9.9) 25 %"),
    ({"state": "verifying", "received": 8, "total": 8, "version": NEW}, "verifying (9.9.9)"),
    ({"state": "rebooting", "received": 8, "total": 8, "version": NEW}, "restarting (9.9.9)"),
    ({"state": "trial", "version": NEW}, "on trial (9.9.9)"),
    ({"state": "valid", "version": NEW, "why": None}, "valid (9.9.9)"),
    ({"state": "rolled-back", "version": NEW, "why": "it did not start"},
     "rolled back (9.9.9): it did not start"),
    ({"state": "refused", "version": NEW, "why": "signature: not trusted"},
     "refused (9.9.9): signature: not trusted"),
    ({"state": "failed", "version": NEW, "why": "not healthy within 120 s: mqtt"},
     "failed (9.9.9): not healthy within 120 s: mqtt"),
    ({"state": "interrupted", "version": NEW, "why": "power was lost"},
     "interrupted (9.9.9): power was lost"),
    ({"state": "<b>new</b>", "version": "<i>v</i>"}, "<b>new</b> (<i>v</i>)"),  # as text
)


def maintenance(device, browser):
    p = browser()
    p.open()
    p.login(device.pw)
    p.shown("#ui")
    p.tab("maint")
    return p


def upload(p, path):
    p.el("#upload [name=image]").send_keys(str(path))
    p.el("#install").click()


def test_images_the_device_refuses_are_shown_with_its_reason(device, browser, keys, tmp_path):
    before = api(device, "GET", "/api/v1/firmware")[1]
    junk = tmp_path / "junk.bin"  # random bytes, not an image
    junk.write_bytes(b"\x00" + random.Random(1).randbytes(12 * 1024))
    foreign = tmp_path / "foreign.bin"  # a sim release signed by a key the device does not trust
    release.release("sim", NEW, keys.other, str(foreign))
    reasons = (r"magic: 0x00, not an app image \(0xe9\)",
               r"signature: the image is not signed by a key this .*")
    p = maintenance(device, browser)
    p.wait(lambda: "Version\n" + before["version"] in p.text("#fw"))
    assert p.text("#fw").endswith("Update\nnone")
    for u, words in STATES:  # each state in words (app.js's updateState, global)
        assert p.d.execute_script("return updateState(arguments[0])", u) == words
    for image, reason in zip((junk, foreign), reasons):
        upload(p, image)
        out = p.wait(lambda: p.el("#install").is_enabled() and
                     p.text("#fwmsg").startswith(("The device refused", "Error")) and
                     p.text("#fwmsg"), timeout=30)
        if image == foreign:
            p.shot("firmware-refused-release")
        assert re.fullmatch("The device refused the image: " + reason, out), out
        assert "bad" in p.el("#fwmsg").get_attribute("class")
        # the whole body went out (the device reads a refused body before answering)
        assert p.el("#fwpct").get_attribute("textContent") == "100 %"
        assert not p.el("#fwbar").is_displayed()
        fw = api(device, "GET", "/api/v1/firmware")[1]
        assert (fw["version"], fw["slot"], fw["previous"]) == (
            before["version"], before["slot"], before["previous"])
        p.wait(lambda: "Version\n" + before["version"] in p.text("#fw"))
        assert p.el("#ui").is_displayed()  # still logged in, the rest as it was
        if image == junk:
            p.tab("status")
            p.wait(lambda: before["version"] in p.text("#sys"))
            p.tab("maint")
            p.wait(lambda: "Version\n" + before["version"] in p.text("#fw"))
            p.shot("firmware-refused")
    # the verifying step refused it: the device's record says so
    p.wait(lambda: re.search(r"Update\nrefused \(9\.9\.9\): signature: ", p.text("#fw")))


def test_a_signed_release_is_installed_and_followed_through_the_restart(device, browser, keys,
                                                                        tmp_path):
    before = api(device, "GET", "/api/v1/firmware")[1]
    assert before["version"] != NEW and before["slot"] is not None
    image = tmp_path / "release.bin"
    release.release("sim", NEW, keys.trusted, str(image))
    p = maintenance(device, browser)
    p.wait(lambda: "Version\n" + before["version"] in p.text("#fw"))
    upload(p, image)
    out = p.wait(lambda: "verified" in p.text("#fwmsg") and p.text("#fwmsg"), timeout=40)
    assert out.startswith("Image 9.9.9 verified. The device is restarting into it")
    assert p.text("#fwpct") == "100 %" and p.el("#fwprog").get_attribute("value") == "100"
    assert p.el("#install").get_attribute("disabled")
    p.shot("firmware-restarting")
    p.wait(lambda: p.text("#loginmsg") ==
           "The device is back, running version 9.9.9. Please log in.", timeout=60)
    p.login(device.pw)
    p.shown("#maint")  # the tab it was on
    p.wait(lambda: "Version\n9.9.9" in p.text("#fw"))
    assert "Previous version\n" + before["version"] in p.text("#fw")
    assert p.text("#fwmsg") == "Version 9.9.9 is running."
    # on trial until the services stayed up (2 s here), then valid: the card follows it
    p.wait(lambda: p.text("#fw").endswith("Update\nvalid (9.9.9)"), timeout=30)
    fw = api(device, "GET", "/api/v1/firmware")[1]
    assert (fw["version"], fw["previous"], fw["update"]["state"]) == (
        NEW, before["version"], "valid")
    assert fw["slot"] == 1 - before["slot"]
    p.shot("firmware-installed")
