# What every Smart Connect ESP32 image freezes besides its board.py: the port's own
# modules (_boot.py mounts the filesystem), asyncio, ssl and the firmware.
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
include("../manifest_firmware.py")
