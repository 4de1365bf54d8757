"""Runs first on every start: the board's early setup (on the ESP32 the watchdog is armed
first, then the network interfaces are made, before main.py imports the firmware). A
failure here restarts the board instead of leaving it at the REPL."""
import board

try:
    board.boot()
except Exception as e:  # Ctrl-C (KeyboardInterrupt) still reaches the REPL
    board.fatal(e)
