"""Server-Sent Events for the web UI: each new reading and the status every few seconds.
At most max_streams at once; a stream whose client stops reading is dropped, so the
meter loop and the other services never wait for a browser."""
import asyncio

from meter import reading
from web import answer

STATUS_EVERY_S = 5
SEND_TIMEOUT_S = 5
# Everything of a reading but raw (the same JSON tools/decode.py prints).
HEAD = (b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Cache-Control: no-store\r\nConnection: close\r\n")


class Events:
    def __init__(self, latest, status, clock, auth, out, turn, max_streams=2):
        """status(): the status dict to send; clock(): milliseconds; auth: web.auth.Auth,
        whose UI session a stream may belong to; out: the firmware's output buffer
        (device/outbuf), which every stream's messages are written through; turn:
        web.turn.Turn, taken while a status is written (the web servers' too)."""
        self.latest = latest
        self._status = status
        self._clock = clock
        self._auth = auth
        self.max_streams = max_streams
        self.streams = 0
        self.dropped = 0
        self._out = out
        self._turn = turn

    def stream(self, session):
        """What serves a stream on a writer, run by web.http once the API has let go of
        the request. session: the UI session's cookie, whose stream keeps it alive and
        ends with it (log out); None for a script's (Basic) stream, which lasts while its
        client reads."""
        return lambda writer: self.serve(writer, session)

    async def serve(self, writer, session=None):
        """Writes the stream on writer until the client goes or stops reading, or its
        session ends."""
        self.streams += 1
        try:
            out = self._out.clear(writer)
            out.write(HEAD)
            out.write(answer.SECURITY)
            await self._send(writer, out, b"\r\n")
            seen = -1
            status_at = None
            while session is None or self._auth.in_session(session, self._clock()):
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
                await self.latest.wait()  # a reading, or the firmware's tick every second
        except asyncio.TimeoutError:
            self.dropped += 1  # not reading what it asked for
        except (OSError, MemoryError):
            pass  # the client went (a reload, a closed tab), or no heap for it now
        finally:
            self.streams -= 1

    async def _send_status(self, writer):
        taken = await self._turn.take()
        try:
            out = self._out.clear(writer)
            out.write(b"event: status\ndata: ")
            await answer.write_json(writer, out, self._status(), b"\n\n", SEND_TIMEOUT_S)
        finally:
            self._turn.give(taken)

    async def _send(self, writer, out, end=b"\n\n"):
        """Ends the message just written into out and sends it (no await before the
        write, which takes what it needs of the buffer)."""
        out.write(end)
        writer.write(out.view())
        await asyncio.wait_for(writer.drain(), SEND_TIMEOUT_S)
