# Frozen into the olimex-esp32-poe-tic image (make firmware BOARD=olimex-esp32-poe-tic).
include("../esp32-common/manifest.py")
module("board.py")
