"""`make bundle`: what `make install` copies to a board keeps the package folders, and
every module in it is compiled by mpy-cross for the ESP32 (xtensawin: viper needs it; a
file records its architecture only when it holds native code)."""
import os
import subprocess

from tools import ROOT

XTENSAWIN = 10  # the native architecture number in an .mpy header (py/persistentcode.h)


def test_bundle_has_every_module_in_its_package_compiled_for_the_esp32(tmp_path):
    bundle = tmp_path / "bundle"
    subprocess.run(["make", "-s", "bundle", "BOARD=wt32-eth01", "BUNDLE=%s" % bundle],
                   cwd=ROOT, check=True, capture_output=True)
    lib = os.path.join(ROOT, "firmware", "lib")
    sources = sorted(os.path.relpath(os.path.join(d, n), lib)[:-3]
                     for d, _, names in os.walk(lib) for n in names if n.endswith(".py"))
    compiled = sorted(os.path.relpath(os.path.join(d, n), bundle / "lib")[:-4]
                      for d, _, names in os.walk(bundle / "lib") for n in names)
    assert compiled == sorted(sources + ["board", "microdot/microdot"])
    assert "meter/dsmr" in compiled and "hw/esp32" in compiled
    arch = {}
    for name in compiled:
        with open(bundle / "lib" / (name + ".mpy"), "rb") as f:
            magic, version, flags = f.read(3)
        assert (magic, version) == (ord("M"), 6), name
        arch[name] = flags >> 2
    assert arch["meter/lex"] == XTENSAWIN
    assert set(arch.values()) == {0, XTENSAWIN}
    assert sorted(os.listdir(bundle)) == ["boot.py", "lib", "main.py"]
