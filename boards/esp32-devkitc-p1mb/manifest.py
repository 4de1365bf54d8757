# Frozen into the esp32-devkitc-p1mb image (make firmware BOARD=esp32-devkitc-p1mb).
include("../esp32-common/manifest.py")
module("board.py")
