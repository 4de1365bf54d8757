"""Server-Sent Events for the web UI: each new reading and the status every few seconds.
At most max_streams at once; a stream whose client stops reading is dropped, so the
meter loop and the other services never wait for a browser."""
import asyncio
import json

from device.outbuf import Out
from meter import reading

STATUS_EVERY_S = 5
SEND_TIMEOUT_S = 5
# Everything of a reading but raw (the same JSON tools/decode.py prints).
HEAD = (b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Cache-Control: no-store\r\nConnection: close\r\n")


class Events:
    def __init__(self, latest, status, clock, max_streams=2):
        """status(): the status dict to send; clock(): milliseconds."""
        self.latest = latest
        self._status = status
        self._clock = clock
        self.max_streams = max_streams
        self.streams = 0
        self.dropped = 0
        # Every stream's messages are written through this, taken now while the heap
        # is whole (device/outbuf).
        self._out = Out(1024)

    async def serve(self, writer, headers, alive=None):
        """Writes the stream on writer until the client goes or stops reading, or alive()
        says its session ended. headers: the security headers every answer carries."""
        self.streams += 1
        try:
            out = self._out.clear(writer)
            out.write(HEAD)
            for k, v in headers.items():
                out.write("%s: %s\r\n" % (k, v))
            await self._send(writer, out, b"\r\n")
            seen = -1
            status_at = None
            while alive is None or alive():
                now = self._clock()
                if status_at is None or now - status_at >= STATUS_EVERY_S * 1000:
                    status_at = now
                    await self._send_status(writer)
                if self.latest.count != seen and self.latest.reading is not None:
                    seen = self.latest.count
                    out = self._out.clear(writer)
                    out.write(b"event: reading\ndata: ")
                    reading.write_json(out, self.latest.reading)
                    await self._send(writer, out)
                try:
                    await asyncio.wait_for(self.latest.wait(), 1)
                except asyncio.TimeoutError:
                    pass
        except asyncio.TimeoutError:
            self.dropped += 1  # not reading what it asked for
        except (OSError, MemoryError):
            pass  # the client went (a reload, a closed tab), or no heap for it now
        finally:
            self.streams -= 1

    async def _send_status(self, writer):
        out = self._out.clear(writer)
        out.write(b"event: status\ndata: ")
        json.dump(self._status(), out)
        await self._send(writer, out)

    async def _send(self, writer, out, end=b"\n\n"):
        """Ends the message just written into out and sends it (no await before the
        write, which takes what it needs of the buffer)."""
        out.write(end)
        writer.write(out.view())
        await asyncio.wait_for(writer.drain(), SEND_TIMEOUT_S)
