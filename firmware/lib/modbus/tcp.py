"""Modbus TCP server (SPEC section 4) on asyncio, for several clients at once.

Each connection reads into its own buffer and answers every complete MBAP frame in it,
so partial and pipelined frames both work. A frame that cannot be Modbus (protocol id
not 0, a length outside 2..254) closes that connection only; so does silence longer
than the idle timeout, or answers left unread that long. Every answer is built from
the register image current when the frame is handled, which is immutable: one
response, one telegram.
"""
import asyncio

try:
    from micropython import const
except ImportError:
    const = int

from modbus import pdu, registers
from modbus.log import RequestLog, ipv4

_MBAP = const(7)  # transaction id, protocol id, length, unit id
_MAX_FRAME = const(6 + 254)
_IN = const(_MAX_FRAME)  # one whole frame; a pipelined next one waits in the socket
_OUT = _MBAP + pdu.MAX_ANSWER


def _unsent(writer):
    """Bytes the socket has not taken yet. Answers are small: almost always none, and
    then nothing needs to wait (the next read yields to the other tasks)."""
    try:
        return len(writer.out_buf)  # MicroPython queues them on the stream
    except AttributeError:
        return writer.transport.get_write_buffer_size()


class ModbusServer:
    def __init__(self, latest, clock, idle_s=60, max_clients=8):
        self._latest = latest
        self._clock = clock
        self.idle_s = idle_s
        self.max_clients = max_clients
        self.clients = 0
        self.connections = 0
        self.refused = 0  # connections over max_clients
        self.garbage = 0  # connections closed for bytes that are not Modbus TCP
        self.timeouts = 0
        self.requests = 0
        self.exceptions = 0
        self.log = RequestLog()
        self._out = bytearray(_OUT)

    async def start(self, port, host="0.0.0.0"):
        self.server = await asyncio.start_server(self._serve, host, port, backlog=8)

    async def _serve(self, reader, writer):
        self.connections += 1
        if self.clients >= self.max_clients:
            self.refused += 1
            writer.close()
            await writer.wait_closed()
            return
        self.clients += 1
        try:
            await self._session(reader, writer, ipv4(writer.get_extra_info("peername")))
        except asyncio.TimeoutError:
            self.timeouts += 1
        except ValueError:
            self.garbage += 1
        except (OSError, MemoryError):  # a broken connection, or no heap for it: that one
            pass
        finally:
            self.clients -= 1
            writer.close()
            await writer.wait_closed()

    async def _session(self, reader, writer, client):
        buf = bytearray(_IN)
        out = self._out  # shared: an answer is built and copied out before any await
        n = 0
        while True:
            data = await asyncio.wait_for(reader.read(_IN - n), self.idle_s)
            if not data:
                return
            buf[n:n + len(data)] = data
            n += len(data)
            i = 0
            while n - i >= _MBAP:
                length = buf[i + 4] << 8 | buf[i + 5]
                if buf[i + 2] or buf[i + 3] or length < 2 or length > 254:
                    raise ValueError("not Modbus TCP")
                end = i + 6 + length
                if end > n:
                    break
                writer.write(out[:self._answer(buf, i, length, out, client)])
                i = end
            if i:
                if i < n:  # keep the start of the next frame
                    buf[:n - i] = buf[i:n]
                n -= i
                if _unsent(writer):
                    # A client that stops reading its answers must not hold a slot forever.
                    await asyncio.wait_for(writer.drain(), self.idle_s)

    def _answer(self, buf, i, length, out, client):
        """The response ADU to the frame at buf[i:] in out; returns its length."""
        latest = self._latest
        m = pdu.answer(buf, i + _MBAP, length - 1, latest.image,
                          latest.fresh(self._clock()), out, _MBAP, registers.write)
        out[0:4] = buf[i:i + 4]  # transaction id, protocol id
        out[4] = 0
        out[5] = m + 1
        out[6] = buf[i + 6]  # unit id, echoed (ignored otherwise)
        self.requests += 1
        failed = out[_MBAP] & 0x80
        if failed:
            self.exceptions += 1
        self.log.add(client, buf, i + 6, length, out[_MBAP + 1] if failed else 0)
        return _MBAP + m
