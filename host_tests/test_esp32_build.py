"""The ESP32 image definitions, checked as far as a machine without ESP-IDF can: every
board's manifest runs under MicroPython's own manifest tool and freezes the whole
firmware, its board module and what it needs; every board's Python heap is 96 KB and held
at that size (boards/esp32-common/heap.h; host_tests/test_heap_cap.py); the ESP-IDF
settings are known options of ESP-IDF v5.5.1 within their ranges, and the socket count is
the firmware's budget."""
import glob
import os
import re
import sys

import pytest

from net import budget
from tools import ROOT

MP_SRC = os.path.join(ROOT, ".venv", "micropython-1.28.0")  # make frozen32 unpacks it
BOARDS = sorted(os.path.basename(os.path.dirname(p))
                for p in glob.glob(os.path.join(ROOT, "boards", "*", "mpconfigboard.cmake")))
# ports/esp32/boards files of MicroPython v1.28.0 a board may build on.
PORT_SDKCONFIGS = {"boards/sdkconfig.base", "boards/sdkconfig.240mhz", "boards/sdkconfig.ble"}
# The options we set, with their ranges, from ESP-IDF v5.5.1 components/lwip/Kconfig and
# components/mbedtls/Kconfig (DYNAMIC_BUFFER depends on DTLS being off).
IDF_OPTIONS = {"CONFIG_LWIP_MAX_SOCKETS": (1, 253), "CONFIG_LWIP_MAX_ACTIVE_TCP": (1, 1024),
               "CONFIG_LWIP_AUTOIP": "y", "CONFIG_LWIP_AUTOIP_TRIES": (1, 100),
               "CONFIG_MBEDTLS_SSL_PROTO_DTLS": "n", "CONFIG_MBEDTLS_DYNAMIC_BUFFER": "y",
               # components/partition_table/Kconfig.projbuild, components/bootloader/
               # Kconfig.projbuild: updates (docs/update.md)
               "CONFIG_PARTITION_TABLE_CUSTOM": "y", "CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE": "y",
               "CONFIG_SECURE_SIGNED_APPS_NO_SECURE_BOOT": "y",
               "CONFIG_SECURE_SIGNED_APPS_ECDSA_SCHEME": "y",
               "CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT": "y",
               "CONFIG_SECURE_SIGNED_ON_BOOT_NO_SECURE_BOOT": "n",
               "CONFIG_SECURE_BOOT_BUILD_SIGNED_BINARIES": "n"}
# What make firmware writes (build/firmware-<board>/sdkconfig.paths), which cmake reads
# through SC_SDKCONFIG_PATHS: the absolute paths of our partition table and update key.
PATH_OPTIONS = ("CONFIG_PARTITION_TABLE_CUSTOM_FILENAME", "CONFIG_SECURE_BOOT_VERIFICATION_KEY")


def test_every_esp32_board_has_an_image_definition():
    esp32 = sorted(os.path.basename(os.path.dirname(p))
                   for p in glob.glob(os.path.join(ROOT, "boards", "*", "board.py"))
                   if "/sim/" not in p)
    assert BOARDS == esp32 and len(BOARDS) >= 3
    for b in BOARDS:
        for name in ("mpconfigboard.h", "manifest.py"):
            assert os.path.exists(os.path.join(ROOT, "boards", b, name)), (b, name)
        with open(os.path.join(ROOT, "boards", b, "mpconfigboard.h")) as f:
            h = f.read()
        assert "#define MICROPY_PY_BLUETOOTH (0)" in h
        # make install tells our images by it (tools/devpath.py, sys.implementation._machine)
        assert '#define MICROPY_HW_BOARD_NAME "Smart Connect ' in h
        # The device's 96 KB Python heap, held at that size (docs/memory.md, "Heap growth")
        assert "#define MICROPY_GC_INITIAL_HEAP_SIZE (96 * 1024)" in h
        assert '#include "../esp32-common/heap.h"' in h


@pytest.mark.parametrize("board", BOARDS)
def test_sdkconfig_files_exist_and_hold_known_options(board):
    folder = os.path.join(ROOT, "boards", board)
    with open(os.path.join(folder, "mpconfigboard.cmake")) as f:
        cmake = f.read()
    entries = re.search(r"set\(SDKCONFIG_DEFAULTS(.*?)\)", cmake, re.S).group(1).split()
    assert entries[0] == "boards/sdkconfig.base"
    settings = {}
    for e in entries:
        if e.startswith("${MICROPY_BOARD_DIR}/"):
            path = os.path.normpath(os.path.join(folder, e[len("${MICROPY_BOARD_DIR}/"):]))
            with open(path) as f:
                for line in f:
                    if line.strip() and not line.startswith("#"):
                        name, value = line.strip().split("=", 1)
                        settings[name] = value
        elif e != "$ENV{SC_SDKCONFIG_PATHS}":
            assert e in PORT_SDKCONFIGS, e
    assert "${MICROPY_BOARD_DIR}/manifest.py" in cmake
    for name, value in settings.items():
        want = IDF_OPTIONS[name]
        assert value == want if isinstance(want, str) else want[0] <= int(value) <= want[1]
    assert int(settings["CONFIG_LWIP_MAX_SOCKETS"]) == budget.SOCKETS
    # Connections at once (listeners have their own pool): clients, readers, MQTT, HTTP(S),
    # one being refused.
    tcp = (budget.MODBUS_CLIENTS + budget.RAW_READERS + budget.MQTT + budget.HTTPS_CONNECTIONS
           + budget.HTTP_CONNECTIONS + budget.REFUSING)
    assert int(settings["CONFIG_LWIP_MAX_ACTIVE_TCP"]) >= tcp


@pytest.mark.parametrize("board", BOARDS)
def test_manifest_freezes_the_whole_firmware_and_its_board(board, tmp_path):
    sys.path.insert(0, os.path.join(MP_SRC, "tools"))
    import manifestfile

    port = tmp_path / "esp32"  # stands for ports/esp32: its modules/ folder
    (port / "modules").mkdir(parents=True)
    (port / "modules" / "_boot.py").write_text("")
    m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {
        "MPY_DIR": MP_SRC, "MPY_LIB_DIR": os.path.join(MP_SRC, "lib", "micropython-lib"),
        "PORT_DIR": str(port), "BOARD_DIR": os.path.join(ROOT, "boards", board)})
    m.execute(os.path.join(ROOT, "boards", board, "manifest.py"))
    frozen = {f.target_path: f.full_path for f in m.files()}
    lib = os.path.join(ROOT, "firmware", "lib")
    for d, _, names in os.walk(lib):
        for n in names:
            if n.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, n), lib)
                assert frozen[rel] == os.path.join(d, n)
    assert frozen["board.py"] == os.path.join(ROOT, "boards", board, "board.py")
    assert frozen["boot.py"].endswith("firmware/boot.py")
    assert frozen["main.py"].endswith("firmware/main.py")
    assert {"_boot.py", "ssl.py", "asyncio/core.py"} <= set(frozen)
