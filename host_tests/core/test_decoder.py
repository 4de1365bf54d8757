"""The decoder under a heap that runs short for a moment."""
from meter.decoder import Decoder
from support import corpus


def test_a_telegram_that_finds_no_heap_is_counted_and_the_next_one_decodes():
    got = []

    def on_reading(r, raw, buf, n):
        if not got:
            got.append(None)
            raise MemoryError("memory allocation failed")
        got.append(r["power_w"])

    dec = Decoder(on_reading)
    telegram = corpus("dsmr/v5.txt")
    dec.feed(telegram + telegram, 1700000000)
    assert dec.no_heap == 1 and dec.valid == 2 and dec.rejected == 0
    assert got[1] is not None
