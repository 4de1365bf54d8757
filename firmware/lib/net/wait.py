"""Waiting on a MicroPython socket without a stream around it."""
import asyncio


def readable(sock):
    """Returns when sock has something to read: MicroPython's asyncio waits on what a
    generator yields, as its own streams do (MicroPython only)."""
    yield asyncio.core._io_queue.queue_read(sock)
