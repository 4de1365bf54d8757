# Frozen into the wt32-eth01 image (make firmware BOARD=wt32-eth01).
include("../esp32-common/manifest.py")
module("board.py")
