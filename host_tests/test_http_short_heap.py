"""A request the heap is short for is answered 503 with Retry-After, counted per route,
and the connection goes on serving (web/http.py, web/answer.py): the firmware's HTTP
server and a real Microdot application on CPython, a real client over a socket. On the
device the MemoryError comes from a fragmented heap (issue 19); here a route raises it,
in the route itself and while its answer is being written. And kept-alive connections
that idle: one yields its slot to a newcomer, and each ends after KEEP_ALIVE_S."""
import asyncio
import http.client
import json
import threading
import time

from microdot.microdot import Microdot

from device.outbuf import Out
from web import errors
from web import http as web_http
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
    def __init__(self, max_conns=2):
        self.max_conns = max_conns
        self.refused = {}
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._up = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self._up.wait(10)

    def _run(self):
        async def main():
            server = HttpServer(_app, "http", self.max_conns, Out(1024), self.refused, Turn())
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


def _get(conn):
    conn.request("GET", "/ok")
    r = conn.getresponse()
    return r.status, r.read()


def test_an_idle_kept_alive_connection_yields_its_slot_to_a_newcomer():
    """One slot: the first client's connection idles between requests; the second gets
    an answer (the idle one is ended for it), and the first, reconnecting, too."""
    s = Server(max_conns=1)
    first = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    assert _get(first)[0] == 200
    second = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    assert _get(second) == (200, b'{"ok": true}')
    second.close()
    first.close()
    first = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    assert _get(first)[0] == 200
    first.close()


def test_an_idle_connection_is_closed_after_the_keep_alive_time(monkeypatch):
    monkeypatch.setattr(web_http, "_IDLE_STEPS", 2)  # 0.4 s instead of KEEP_ALIVE_S
    s = Server()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    assert _get(conn)[0] == 200
    time.sleep(1.0)
    assert conn.sock.recv(10) == b""  # closed by the server
    conn.close()
