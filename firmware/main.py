"""Started by MicroPython after boot.py: run the firmware."""
import app

app.main()
