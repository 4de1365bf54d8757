"""tools/decode.py as SPEC section 12 describes it, on both interpreters."""
import glob
import json
import os
import subprocess
import sys

import pytest

from tools import CORPUS, MICROPYTHON, ROOT

FILES = sorted(glob.glob(os.path.join(CORPUS, "dsmr", "*"))
               + glob.glob(os.path.join(CORPUS, "tic", "*")))
REGRESSION = sorted(p for p in glob.glob(os.path.join(CORPUS, "regression", "*"))
                    if not p.endswith(".md"))
INTERPRETERS = {"cpython": sys.executable, "micropython": MICROPYTHON}


def run(interp, *args):
    return subprocess.run([INTERPRETERS[interp], "tools/decode.py", *args], cwd=ROOT,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_same_json_on_both_interpreters(path):
    out = {i: run(i, "--now", "1700000000", path) for i in INTERPRETERS}
    for proc in out.values():
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == b""
    assert out["cpython"].stdout == out["micropython"].stdout
    (line,) = out["cpython"].stdout.decode().splitlines()
    r = json.loads(line)
    assert r["raw"] and r["protocol"]
    keys = [k for k in r if k != "raw"]
    assert keys[:3] == ["protocol", "ts", "power_w"] and len(keys) == 32


@pytest.mark.parametrize("path", REGRESSION, ids=os.path.basename)
def test_regression_cases_print_the_same_on_both_interpreters(path):
    out = {i: run(i, "--now", "1700000000", path) for i in INTERPRETERS}
    cp, mp = out["cpython"], out["micropython"]
    assert (cp.returncode, cp.stdout, cp.stderr) == (mp.returncode, mp.stdout, mp.stderr)
    assert cp.stdout or cp.stderr


def test_a_cut_telegram_and_one_without_meter_values_are_reported():
    for interp in INTERPRETERS:
        proc = run(interp, os.path.join(CORPUS, "regression", "dsmr5_cut_at_end.txt"))
        assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1
        assert proc.stderr == b"cut telegram (147 bytes): incomplete at end of input\n"
        proc = run(interp, os.path.join(CORPUS, "regression", "d0_obis_star255.txt"))
        assert proc.returncode == 1 and proc.stdout == b""
        assert proc.stderr == b"rejected telegram (263 bytes): no meter values\n"


def test_several_telegrams_with_noise_and_one_corrupt(tmp_path):
    v5 = open(os.path.join(CORPUS, "dsmr", "v5.txt"), "rb").read()
    tic = open(os.path.join(CORPUS, "tic", "linky_standard_1ph_hekmon.bin"), "rb").read()
    bad = v5.replace(b"0230.0*V", b"0231.0*V")
    path = tmp_path / "mixed.bin"
    path.write_bytes(b"\x00garbage" + v5 + b"zz" + bad + tic + b"\xff")
    for interp in INTERPRETERS:
        proc = run(interp, str(path))
        assert proc.returncode == 0
        readings = [json.loads(x) for x in proc.stdout.decode().splitlines()]
        assert [r["protocol"] for r in readings] == ["dsmr5", "tic-standard"]
        assert readings[0]["voltage_l1_v"] == 230.0
        assert proc.stderr.decode() == "rejected telegram (890 bytes): CRC mismatch\n"


def test_exit_1_when_nothing_valid(tmp_path):
    p = tmp_path / "noise.bin"
    p.write_bytes(b"/nothing!\r\n" * 3)
    for interp in INTERPRETERS:
        proc = run(interp, str(p))
        assert proc.returncode == 1 and proc.stdout == b""
        assert proc.stderr.count(b"rejected telegram") == 3


def test_repeat_prints_time_per_telegram():
    for interp in INTERPRETERS:
        proc = run(interp, "--repeat", "5", os.path.join(CORPUS, "dsmr", "v5.txt"))
        assert proc.returncode == 0
        assert b"us per telegram (890 bytes)" in proc.stderr
