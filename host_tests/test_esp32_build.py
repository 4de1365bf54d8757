"""The ESP32 image definitions, checked as far as a machine without ESP-IDF can: every
board's manifest runs under MicroPython's own manifest tool and freezes the whole
firmware, its board module and what it needs; every board's Python heap is 96 KB and held
at that size (boards/esp32-common/heap.h; host_tests/test_heap_cap.py); the ESP-IDF
settings are known options of ESP-IDF v5.5.1 within their ranges, and the socket count is
the firmware's budget."""
import glob
import os
import re
import subprocess
import sys

import pytest

from net import budget
from tools import BIN, ROOT

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


# The app size of MicroPython 1.28's ESP32 image without Bluetooth and without our frozen
# firmware: an estimate (docs/update.md, "The partition table") until the first ESP-IDF
# build measures it (ESP-IDF's own check_sizes.py then refuses an app its slot cannot hold).
MP_APP_BYTES = 1500 * 1024
GROWTH = 0.10  # room each slot keeps for later versions


def _table():
    rows = {}
    with open(os.path.join(ROOT, "boards", "esp32-common", "partitions.csv")) as f:
        for line in f:
            cells = [c.strip() for c in line.split("#")[0].split(",")]
            if len(cells) >= 5:
                rows[cells[0]] = (cells[1], cells[2], int(cells[3], 0), int(cells[4], 0))
    return rows


def test_the_partition_table_fits_4_mb_with_two_slots_that_hold_the_image(tmp_path):
    rows = _table()
    assert set(rows) == {"nvs", "otadata", "phy_init", "ota_0", "ota_1", "vfs"}
    spans = sorted((off, off + size, name) for name, (_, _, off, size) in rows.items())
    assert spans[0][0] >= 0x9000  # after the bootloader and the partition table (0x8000)
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        assert end <= start, (a, b)
    assert spans[-1][1] <= 4 * 1024 * 1024
    assert rows["otadata"][3] == 0x2000  # ESP-IDF's two sectors
    for slot in ("ota_0", "ota_1"):
        kind, sub, off, size = rows[slot]
        assert (kind, sub) == ("app", slot) and off % 0x10000 == 0 and size % 0x10000 == 0
    assert rows["ota_0"][3] == rows["ota_1"][3]
    # The frozen firmware: every module as the image freezes it (mpy-cross, xtensawin).
    frozen = 0
    sources = [os.path.join(d, n) for d, _, names in os.walk(os.path.join(ROOT, "firmware"))
               for n in names if n.endswith(".py")]
    import microdot

    sources.append(os.path.join(os.path.dirname(microdot.__file__), "microdot.py"))
    for i, src in enumerate(sources):
        out = tmp_path / ("%d.mpy" % i)
        subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=xtensawin", "-o", str(out),
                        src], check=True)
        frozen += out.stat().st_size
    image = MP_APP_BYTES + frozen
    assert image * (1 + GROWTH) <= rows["ota_0"][3], (image, rows["ota_0"][3])
