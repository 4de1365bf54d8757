"""Corpus access for the portable tests (CPython and the MicroPython unix port)."""
import os

_HERE = __file__.rsplit("/", 1)[0]
ROOT = _HERE + "/../.."
CORPUS = ROOT + "/corpus"


def corpus(name):
    with open(CORPUS + "/" + name, "rb") as f:
        return f.read()


def corpus_names(kind):
    return sorted(kind + "/" + n for n in os.listdir(CORPUS + "/" + kind) if not n.startswith("."))


def parse_all(data, now=0):
    """Feed data through the decoder in one chunk, then end the input as tools/decode.py
    does: (readings, rejection reasons)."""
    from meter.decoder import Decoder

    out = []
    rejected = []
    dec = Decoder(lambda r, raw, buf, n: out.append(r),
                  lambda kind, reason, buf, n: rejected.append(reason))
    dec.feed(data, now)
    dec.end()
    return out, rejected


def parse_one(name, now=0):
    readings, rejected = parse_all(corpus(name), now)
    assert rejected == [], (name, rejected)
    assert len(readings) == 1, (name, len(readings))
    return readings[0]


def close(a, b, eps=1e-9):
    return a is not None and b is not None and abs(a - b) <= eps
