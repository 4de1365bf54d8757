"""MicroPython side of benchmarks/parse.py: prints one JSON object of measurements."""
import gc
import json
import sys
import time

_here = __file__.rsplit("/", 1)[0]
# After .frozen: the 32-bit build (make frozen32) parses with its frozen firmware, as the
# device does; the 64-bit unix port compiles the source.
sys.path.append(_here + "/../firmware/lib")

from meter import dsmr, lex  # noqa: E402


def best_us(fn, n, rounds=7):
    best = None
    for _ in range(rounds):
        gc.collect()
        t0 = time.ticks_us()
        for _ in range(n):
            fn()
        us = time.ticks_diff(time.ticks_us(), t0) / n
        best = us if best is None or us < best else best
    return best


with open(sys.argv[1], "rb") as f:
    telegram = bytearray(f.read())
n = len(telegram)
parser = dsmr.DsmrParser()
parser.parse(telegram, n, 0)

gc.collect()
gc.disable()
before = gc.mem_alloc()
parser.parse(telegram, n, 0)
alloc = gc.mem_alloc() - before
gc.enable()

kb = bytearray(bytes(range(256)) * 4)
print(json.dumps({
    "parse_us": best_us(lambda: parser.parse(telegram, n, 0), 500),
    "alloc_bytes": alloc,
    "crc_viper_us": best_us(lambda: lex.crc16(kb, 0, 1024), 500),
    "crc_table_py_us": best_us(lambda: lex.crc16_py(kb, 0, 1024), 50),
    "crc_bitwise_py_us": best_us(lambda: lex.crc16_bitwise(kb, 0, 1024), 20),
}))
