# The sim board frozen into the MicroPython unix port (make frozen32: the device gauge).
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
include("../manifest_firmware.py")
module("board.py")
module("sim_rs485.py")
module("simnet.py")
module("partition.py")
