"""Waiting on MicroPython sockets and streams: a socket without a stream around it, and
what a stream's write() left for drain()."""
import asyncio


def unsent(writer):
    """Bytes a stream writer has not handed to its socket yet (MicroPython queues them on
    the stream; CPython in its transport). Almost always none: then nothing needs a
    drain()."""
    try:
        return len(writer.out_buf)
    except AttributeError:
        return writer.transport.get_write_buffer_size()


def readable(sock):
    """Returns when sock has something to read: MicroPython's asyncio waits on what a
    generator yields, as its own streams do (MicroPython only)."""
    yield asyncio.core._io_queue.queue_read(sock)
