"""The portable core's test modules, run on the MicroPython unix port with an ESP32-sized
heap: the same assertions as under pytest, on the interpreter the firmware ships on."""
import glob
import os
import subprocess

from tools import MICROPYTHON, ROOT

HEAP = "160k"


def test_portable_suite_passes_on_the_unix_port():
    modules = sorted(os.path.basename(p)[:-3]
                     for p in glob.glob(os.path.join(ROOT, "host_tests", "core", "test_*.py")))
    assert len(modules) >= 6
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=" + HEAP, "host_tests/core/run_micropython.py", *modules],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout
