# The firmware every board freezes into its MicroPython image (bytecode stays in flash):
# boot.py and main.py, which MicroPython runs at start (frozen ones win over files),
# every package of firmware/lib (web/assets.py, the packed UI, is made by make first), and
# the core module of Microdot, pinned in requirements.txt: the copy pip installed into the
# project's .venv. A board's manifest.py includes this and adds its own board.py as the
# module `board`.
import glob

freeze("../firmware", ("boot.py", "main.py"))
freeze("../firmware/lib")
_site = glob.glob("../.venv/lib/python3*/site-packages")
assert _site, "no .venv: run make setup first"
freeze(_site[0], "microdot/microdot.py")
