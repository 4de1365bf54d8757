"""Modbus TCP server (SPEC section 4) on asyncio, for several clients at once.

Every connection reads into the server's one buffer and answers every complete frame in
it before anything else runs; the start of a frame still arriving is kept apart, so
partial and pipelined frames both work. A connection speaks MBAP or, as energy managers
do through Ethernet-to-RS485 gateways, RTU framing (modbus/rtu.py): its first frame
decides, a valid RTU CRC meaning RTU, and every answer goes out in that framing. A frame
that cannot be Modbus (protocol id not 0, a length outside 2..254, a wrong CRC) closes
that connection only; so does silence longer than the idle timeout (one task looks after
every connection's, not a timer around each read: that is a task and a coroutine per
request, and ~300 bytes of the heap per waiting connection), or answers left unread that
long. Every answer is built from
the register image current when the frame is handled, which is immutable: one
response, one telegram.
"""
import asyncio

try:
    from micropython import const
except ImportError:
    const = int

from modbus import pdu, registers, rtu
from modbus.log import RequestLog, ipv4
from net.wait import unsent

_MBAP = const(7)  # transaction id, protocol id, length, unit id
_MAX_FRAME = const(6 + 254)
_IN = const(_MAX_FRAME)  # one whole frame; a pipelined next one waits in the socket
_OUT = _MBAP + pdu.MAX_ANSWER  # also holds an RTU answer (one byte shorter)
_MBAP_FRAMING = const(1)
_RTU_FRAMING = const(2)


def _framing(buf, n):
    """The framing of a connection whose first n bytes are in buf; None while they do
    not tell yet. A complete request with a valid RTU CRC is RTU: an MBAP header has a
    1 in 65536 chance of looking like one."""
    if n < 8:
        return None
    k = rtu.request_length(buf, 0, n)
    if (0 < k <= n and rtu.crc_ok(buf, 0, k)) or (k < 0 and rtu.crc_ok(buf, 0, n)):
        return _RTU_FRAMING
    length = buf[4] << 8 | buf[5]
    mbap = not (buf[2] or buf[3]) and 2 <= length <= 254
    if (mbap and 6 + length <= n) or (not mbap and not k > n) or n >= _IN:
        return _MBAP_FRAMING  # complete, or no frame of either kind: the MBAP check says
    return None


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
        # One read and one answer buffer for every connection: each frame is read when
        # its task wakes and answered before anything else runs (1 KB less heap with 4
        # clients than a buffer each).
        self._buf = bytearray(_IN)
        self._in = memoryview(self._buf)
        self._out = bytearray(_OUT)
        self._live = []  # [task, ms of its last request] of each connection
        self._reaper = None

    async def start(self, port, host="0.0.0.0"):
        self.server = await asyncio.start_server(self._serve, host, port, backlog=8)

    async def _reap(self):
        """Ends the connections silent for longer than the idle timeout; runs while there
        are connections."""
        while True:
            await asyncio.sleep(1)
            now = self._clock()
            for conn in self._live:
                if now - conn[1] > self.idle_s * 1000:
                    conn[1] = now  # cancelled once
                    conn[0].cancel()

    async def _serve(self, reader, writer):
        self.connections += 1
        if self.clients >= self.max_clients:
            self.refused += 1
            writer.close()
            await writer.wait_closed()
            return
        self.clients += 1
        conn = [asyncio.current_task(), self._clock()]
        self._live.append(conn)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap())
        try:
            await self._session(reader, writer, ipv4(writer.get_extra_info("peername")), conn)
        except (asyncio.TimeoutError, asyncio.CancelledError):  # silent, or not reading
            self.timeouts += 1
        except ValueError:
            self.garbage += 1
        except (OSError, MemoryError):  # a broken connection, or no heap for it: that one
            pass
        finally:
            self._live.remove(conn)
            if not self._live:
                self._reaper.cancel()
                self._reaper = None
            self.clients -= 1
            writer.close()
            await writer.wait_closed()

    async def _session(self, reader, writer, client, conn):
        out = self._out
        held = None  # the start of a frame still arriving: kept apart, the buffer is shared
        framing = None
        while True:
            got = await _receive(reader, self._in if held is None else
                                 self._in[:_IN - len(held)])
            if not got:
                return
            conn[1] = self._clock()
            buf, n = self._buf, got
            if held is not None:  # rare: a frame split across segments
                held.extend(self._in[:got])
                buf, n, held = held, len(held), None
            i = 0
            if framing is None:
                framing = _framing(buf, n)
            while framing == _RTU_FRAMING and n > i:
                k = rtu.request_length(buf, i, n - i)
                if k < 0:  # a function without a length: one frame per segment
                    k = n - i
                if k == 0 or i + k > n:
                    if k > _IN:
                        raise ValueError("not Modbus RTU")
                    break
                if not rtu.crc_ok(buf, i, k):
                    raise ValueError("not Modbus RTU")
                writer.write(out[:self._answer_rtu(buf, i, k, out, client)])
                i += k
            while framing == _MBAP_FRAMING and n - i >= _MBAP:
                length = buf[i + 4] << 8 | buf[i + 5]
                if buf[i + 2] or buf[i + 3] or length < 2 or length > 254:
                    raise ValueError("not Modbus TCP")
                end = i + 6 + length
                if end > n:
                    break
                writer.write(out[:self._answer(buf, i, length, out, client)])
                i = end
            if i < n:
                held = bytearray(buf[i:n])
            if i and unsent(writer):
                # A client that stops reading its answers must not hold a slot forever.
                await asyncio.wait_for(writer.drain(), self.idle_s)

    def _answer_rtu(self, buf, i, k, out, client):
        """The RTU answer to the checked frame buf[i:i+k] in out; returns its length.
        Every address is answered, as the unit id of MBAP."""
        latest = self._latest
        m = rtu.answer(buf, i, k, latest.image, latest.fresh(self._clock()), out,
                       registers.write)
        self.requests += 1
        failed = out[1] & 0x80
        if failed:
            self.exceptions += 1
        self.log.add(client, buf, i, k - 2, out[2] if failed else 0)
        return m

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


async def _receive(reader, into):
    """How many bytes arrived into the memoryview into (0: the client closed). On
    MicroPython they are read into the server's buffer: a read() would take a fresh
    block of the heap for every request."""
    if hasattr(reader, "readinto"):
        while True:
            got = await reader.readinto(into)
            if got is not None:  # None: woken with nothing to read after all
                return got
    data = await reader.read(len(into))
    into[:len(data)] = data
    return len(data)
