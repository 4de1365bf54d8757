# The firmware every board freezes into its MicroPython image (bytecode stays in flash):
# boot.py and main.py, which MicroPython runs at start (frozen ones win over files), and
# every package of firmware/lib. A board's manifest.py includes this and adds its own
# board.py as the module `board`.
freeze("../firmware", ("boot.py", "main.py"))
freeze("../firmware/lib")
