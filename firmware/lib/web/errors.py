"""The API's one error shape: {"error": "<area>:<code>", "field": ..., "reason": ...}."""
from web.answer import SHORT, Json

REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
           413: "Payload Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def response(status, code, reason, field=None, headers=None, extra=None):
    from microdot.microdot import Response

    h = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if headers:
        h.update(headers)
    body = {"error": code, "field": field, "reason": reason}
    if extra:
        body.update(extra)
    return Response(Json(body), status, h)


def on_short_heap(app):
    """A MemoryError in a route is answered 503 with Retry-After (web/http.py counts it),
    not Microdot's 500: the client should try again, not report a fault."""

    @app.errorhandler(MemoryError)
    async def short(req, exc):
        from microdot.microdot import Response

        return Response(SHORT, 503, {"Content-Type": "application/json",
                                     "Cache-Control": "no-store", "Retry-After": "1"})


def client(peername):
    """The client's address as a dict key: the IP, without the port (a tuple on the
    ESP32, a raw sockaddr on the unix port)."""
    if isinstance(peername, tuple):
        return peername[0]
    return bytes(peername[4:8]) if peername else None
