"""Paths of the host tools the tests drive."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
CORPUS = os.path.join(ROOT, "corpus")
MP_LIB = os.path.join(ROOT, ".venv", "mp-lib")  # MicroPython packages fetched by `make setup`
