"""The Makefile's device targets, as far as this machine (no board, no ESP-IDF) can run
them: `make install` asks the board whether its image can hold the .mpy development path
(tools/devpath.py, its probe run on the device gauge against the ESP32 stand-in) and
stretches the watchdog before it copies anything, and `make firmware` without ESP-IDF
says what it needs instead of failing somewhere inside."""
import os
import subprocess
import sys

import pytest

from tools import BIN, ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from devpath import PROBE, PYTHON_KB, SYSTEM_KB, verdict  # noqa: E402


def make(*args, env=None):
    return subprocess.run(["make", "--no-print-directory"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)


def test_install_stretches_the_watchdog_before_copying():
    """The firmware's 10 s watchdog survives mpremote's Ctrl-C and soft reset: without
    the stretch the board restarts halfway through the copy."""
    out = make("-n", "install", "BOARD=wt32-eth01", "PORT=/dev/ttyUSB9").stdout
    lines = out.replace("\\\n", " ").splitlines()
    line = next(s for s in lines if "mpremote" in s)
    assert line.index("machine.WDT(timeout=3600000)") < line.index("fs cp")
    # a start that ran out of heap is forgotten: the copied firmware gets one (hw/esp32.py)
    assert line.index("machine.RTC().memory(b'')") < line.index("fs cp")
    assert line.rstrip().endswith("reset")  # a hard reset: the stretched watchdog ends
    check = next(i for i, s in enumerate(lines) if "tools/devpath.py" in s)
    assert "--port /dev/ttyUSB9 --board wt32-eth01" in lines[check]
    assert check < lines.index(line)  # asked before anything is copied


@pytest.mark.parametrize("machine,kb,ok,says", [
    ("Smart Connect P1 (WT32-ETH01) with ESP32", 4096, False, "frozen firmware starts"),
    ("Generic ESP32 module with ESP32", PYTHON_KB - 1, False, "can reach %d KB" % (PYTHON_KB - 1)),
    ("Generic ESP32 module with ESP32", PYTHON_KB + SYSTEM_KB - 1, True, "warning"),
    ("Generic ESP32 module with SPIRAM with ESP32", 2048, True, "enough"),
])
def test_install_refuses_an_image_that_cannot_hold_the_mpy_path(machine, kb, ok, says):
    copy, text = verdict(machine, kb * 1024, "wt32-eth01", "/dev/ttyUSB9")
    assert copy == ok and says in text, text
    if not ok:
        assert "make firmware flash BOARD=wt32-eth01 PORT=/dev/ttyUSB9" in text


def test_the_probe_reports_the_heap_and_the_block_it_may_grow_into():
    """On the gauge, whose split heap models the ESP32's: its 96 KB plus the IDF block."""
    env = dict(os.environ, SC_IDF_FREE_BLOCK=str(64 * 1024),
               MICROPYPATH=os.path.join(ROOT, "host_tests", "esp32"))
    out = subprocess.run([os.path.join(BIN, "micropython-frozen32"), "-X", "heapsize=96k", "-c",
                          PROBE], capture_output=True, text=True, timeout=30, env=env).stdout
    assert out.splitlines()[0] == "hw: WDT 3600000"  # the firmware's watchdog stretched first
    word, reach, machine = out.splitlines()[1].split(" ", 2)
    assert word == "devpath" and int(reach) == 96000 + 64 * 1024 and machine


def test_firmware_without_esp_idf_says_what_it_needs():
    env = {k: v for k, v in os.environ.items() if k != "IDF_PATH"}
    env["PATH"] = "/usr/bin:/bin"  # no idf.py
    proc = make("firmware", "BOARD=wt32-eth01", env=env)
    assert proc.returncode != 0
    assert "needs ESP-IDF v5.5.1" in proc.stdout and "export.sh" in proc.stdout


def test_firmware_names_a_board_that_does_not_exist():
    proc = make("firmware", "BOARD=sim")  # the sim has no ESP32 image
    assert proc.returncode != 0 and "no ESP32 board sim" in proc.stdout


def test_firmware_needs_the_update_key_and_flash_a_signed_release(tmp_path):
    idf = tmp_path / "idf.py"  # ESP-IDF present as far as make can tell
    idf.write_text("#!/bin/sh\n")
    idf.chmod(0o755)
    env = dict(os.environ, PATH="%s:/usr/bin:/bin" % tmp_path)
    proc = make("firmware", "BOARD=wt32-eth01", env=env)
    assert proc.returncode != 0 and "needs UPDATE_KEY=PUB.pem" in proc.stdout
    proc = make("flash", "BOARD=wt32-eth01")
    assert proc.returncode != 0 and "needs RELEASE=FILE: a signed image" in proc.stdout
