# MicroPython for the ESP32 (no PSRAM) with the firmware frozen in: make firmware BOARD=esp32-devkitc-p1mb
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.240mhz
    ${MICROPY_BOARD_DIR}/../esp32-common/sdkconfig.board
    $ENV{SC_SDKCONFIG_PATHS}
)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
