"""Started by MicroPython after boot.py: run the firmware, unless the board halted at boot
(board.halted(): an ESP32 whose .mpy development path ran out of heap stays at the REPL).
Importing it can fail (no memory left, a corrupt module on a development install):
board.fatal() then restarts the board."""
import board

if not board.halted():
    try:
        import app
    except Exception as e:
        board.fatal(e)
    app.main()
