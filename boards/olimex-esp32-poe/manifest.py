# Frozen into the olimex-esp32-poe image (make firmware BOARD=olimex-esp32-poe).
include("../esp32-common/manifest.py")
module("board.py")
