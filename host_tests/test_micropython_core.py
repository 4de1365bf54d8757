"""The portable core's test modules, run on the MicroPython unix port with a small heap:
the same assertions as under pytest, on the interpreter the firmware ships on. The port is
64-bit and compiles every module from source here, which takes about twice the device's
heap; the device's own figures come from the gauge (test_device_gauge.py)."""
import glob
import os
import subprocess

import pytest

from tools import MICROPYTHON, ROOT

HEAP = "192k"


MODULES = sorted(os.path.basename(p)[:-3]
                 for p in glob.glob(os.path.join(ROOT, "host_tests", "core", "test_*.py")))


@pytest.mark.parametrize("module", MODULES)
def test_portable_module_passes_on_the_unix_port(module):
    """One interpreter per module: like the device, it holds only what one part needs
    (and compiles it from source here, which the device does not)."""
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=" + HEAP, "host_tests/core/run_micropython.py", module],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout
