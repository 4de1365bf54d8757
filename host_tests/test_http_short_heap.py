"""A request the heap is short for is answered 503 with Retry-After, counted per route,
and the connection goes on serving (web/http.py, web/answer.py): the firmware's HTTP
server and a real Microdot application on CPython, a real client over a socket. On the
device the MemoryError comes from a fragmented heap (issue 19); here a route raises it,
in the route itself and while its answer is being written."""
import asyncio
import http.client
import json
import threading

from microdot.microdot import Microdot

from device.outbuf import Out
from web import errors
from web.answer import Json
from web.http import HttpServer
from web.turn import Turn


def _app():
    app = Microdot()
    errors.on_short_heap(app)

    @app.get("/route")
    async def route(req):
        raise MemoryError

    def build():
        raise MemoryError

    @app.get("/answer")
    async def answer(req):
        return Json(build), 200, {"Cache-Control": "no-store"}

    @app.get("/ok")
    async def ok(req):
        return Json({"ok": True}), 200, {}

    return app


class Server:
    def __init__(self):
        self.refused = {}
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._up = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self._up.wait(10)

    def _run(self):
        async def main():
            server = HttpServer(_app, "http", 2, Out(1024), self.refused, Turn())
            await server.start(0, "127.0.0.1")
            self.port = server.server.sockets[0].getsockname()[1]
            self._up.set()
            await asyncio.Event().wait()

        self._loop.run_until_complete(main())


def test_short_heap_is_503_with_retry_after_counted_per_route_and_keeps_the_connection():
    s = Server()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    for path in ("/route", "/answer", "/answer", "/ok"):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if path == "/ok":
            assert r.status == 200 and json.loads(body) == {"ok": True}
            continue
        assert r.status == 503, (path, r.status, body)
        assert r.getheader("Retry-After") == "1"
        assert r.getheader("Connection") == "keep-alive"
        assert json.loads(body)["error"] == "heap:short"
    conn.close()
    assert s.refused == {"/route": 1, "/answer": 2}
