"""The Makefile's device targets, as far as this machine (no board, no ESP-IDF) can run
them: `make install` stretches the watchdog before it copies anything, and `make
firmware` without ESP-IDF says what it needs instead of failing somewhere inside."""
import os
import subprocess

from tools import ROOT


def make(*args, env=None):
    return subprocess.run(["make", "--no-print-directory"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)


def test_install_stretches_the_watchdog_before_copying():
    """The firmware's 10 s watchdog survives mpremote's Ctrl-C and soft reset: without
    the stretch the board restarts halfway through the copy."""
    out = make("-n", "install", "BOARD=wt32-eth01", "PORT=/dev/ttyUSB9").stdout
    line = next(s for s in out.replace("\\\n", " ").splitlines() if "mpremote" in s)
    assert line.index("machine.WDT(timeout=3600000)") < line.index("fs cp")
    assert line.rstrip().endswith("reset")  # a hard reset: the stretched watchdog ends


def test_firmware_without_esp_idf_says_what_it_needs():
    env = {k: v for k, v in os.environ.items() if k != "IDF_PATH"}
    env["PATH"] = "/usr/bin:/bin"  # no idf.py
    proc = make("firmware", "BOARD=wt32-eth01", env=env)
    assert proc.returncode != 0
    assert "needs ESP-IDF v5.5.1" in proc.stdout and "export.sh" in proc.stdout


def test_firmware_names_a_board_that_does_not_exist():
    proc = make("firmware", "BOARD=sim")  # the sim has no ESP32 image
    assert proc.returncode != 0 and "no ESP32 board sim" in proc.stdout
