"""Started by MicroPython after boot.py: run the firmware. Importing it can fail (no memory
left, a corrupt module on a development install): the board then restarts."""
import board

try:
    import app
except Exception as e:
    board.fatal(e)
app.main()
