"""The HTTPS API and the UI's files (docs/http-api.md) as a Microdot application.

Every /api/v1 route needs the UI session's cookie or the Basic header; state changes come
only over POST, PATCH and DELETE and only from the UI's own origin (or a script with the
Basic header). dev is the firmware (app.App): its status, configuration and resets.
"""
import asyncio
import json

from microdot.microdot import Request, Response

from device import schema
from web import errors
from web.answer import Json
from web.routes import Routes

JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}
_CHANGES = ("POST", "PATCH", "DELETE")
_NOW = ("MeterType", "Modbus", "MQTT")  # applied at once; the rest after a reboot


def _json(data, status=200):
    """data: the value, or a function giving it as the answer is written (web/answer)."""
    return Response(Json(data), status, JSON)


def _foreign(req):
    """True if the request says it comes from another site (Origin or Sec-Fetch-Site)."""
    origin = req.headers.get("Origin")
    if origin is not None:
        return origin != "https://" + req.headers.get("Host", "")
    return req.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")


def _unproven(req):
    """True if nothing shows a state change comes from the device's own page: neither
    header, and no Basic header a script would send (a cookie alone is not enough)."""
    h = req.headers
    return "Origin" not in h and "Sec-Fetch-Site" not in h and "Authorization" not in h


def _csrf():
    return errors.response(403, "csrf:cross-origin",
                           "state changes only from the device's own page")


def build(dev, auth, events, assets, clock):
    """The application. assets: {path: (content type, gzip bytes)} of the UI."""
    app = Routes()
    errors.on_short_heap(app)
    # A firmware image streams through its route (web/upload.py) and every other body is
    # bounded by web/http.py before Microdot sees it: Microdot's own bound on a body (16 KB,
    # answered 413 before any route runs) must not refuse the image. A length no slot
    # holds is the update's to refuse (400 update:size).
    Request.max_content_length = 0x3FFFFFFF  # a small int on the ESP32 too

    @app.before_request
    async def guard(req):
        if not req.path.startswith("/api/v1/"):
            return None
        change = req.method in _CHANGES
        if change and _foreign(req):  # before any login: no dialog on another site's page
            return _csrf()
        now = clock()
        basic = req.headers.get("Authorization")
        cookie = req.cookies.get("sc_session")
        login = req.path == "/api/v1/session" and req.method == "POST"  # needs Basic
        if basic is not None or login or not auth.in_session(cookie, now):
            client = errors.client(req.client_addr)
            wait = auth.locked(client, now)
            if wait:
                return errors.response(429, "auth:locked", "too many failed logins",
                                       headers={"Retry-After": str(wait // 1000 + 1)})
            if basic is None or not auth.check(basic, client, now):
                # The page's own requests (and its event stream, which cannot send a
                # header) get our login form, not the browser's dialog.
                ui = req.headers.get("X-SC-UI") or cookie is not None or \
                    req.headers.get("Accept") == "text/event-stream"
                h = {} if ui else {
                    "WWW-Authenticate": 'Basic realm="Smart Connect", charset="UTF-8"'}
                return errors.response(401, "auth:unauthorized", "user and password needed",
                                       headers=h)
        if change and _unproven(req):
            return _csrf()
        return None

    @app.errorhandler(404)
    async def not_found(req):
        return errors.response(404, "http:not-found", "no such page")

    @app.errorhandler(405)
    async def not_allowed(req):
        return errors.response(405, "http:method-not-allowed", "not with this method")

    def static(path):
        kind, body = assets[path]
        return Response(body, 200, {"Content-Type": kind, "Content-Encoding": "gzip",
                                    "Cache-Control": "no-cache"})

    @app.get("/")
    async def index(req):
        return static("/")

    @app.get("/app.js")
    async def script(req):
        return static("/app.js")

    @app.get("/app.css")
    async def style(req):
        return static("/app.css")

    @app.get("/api")
    async def about(req):
        return _json({"product": "Smart Connect", "serial": dev.identity.serial,
                      "firmware": dev.version, "api": 1})

    @app.post("/api/v1/session")
    async def login(req):
        now = clock()
        token = auth.start_session(now)
        if token is None:
            left = (auth.session_until(now) - now) // 1000
            return errors.response(
                409, "auth:session-active",
                "another user is logged in; their session ends when they log out or "
                "after %d minutes without use" % (left // 60 + 1),
                headers={"X-SC-Session-Ends-In": str(left)}, extra={"ends_in_s": left})
        h = dict(JSON)
        h["Set-Cookie"] = "sc_session=%s; Path=/; Secure; HttpOnly; SameSite=Strict" % token
        return Response(Json({"idle_timeout_s": 600}), 200, h)

    @app.delete("/api/v1/session")
    async def logout(req):
        auth.end_session()
        return Response("", 204, {"Set-Cookie": "sc_session=; Path=/; Max-Age=0; "
                                                "Secure; HttpOnly; SameSite=Strict"})

    @app.get("/api/v1/config")
    async def get_config(req):
        return _json(lambda: schema.masked(dev.config))

    @app.patch("/api/v1/config")
    async def patch_config(req):
        try:
            changes = json.loads(req.body)
        except (ValueError, UnicodeError, RuntimeError):  # RecursionError: deep nesting
            return errors.response(400, "request:bad-json", "the body is not JSON")
        new, err = schema.patch(dev.config, changes)
        if err:
            return errors.response(400, "config:invalid", err[1], field=err[0])
        changed = [k for k in new if new[k] != dev.config.get(k)]
        dev.apply_config(new)
        return _json({"config": schema.masked(new),
                      "applied": [k for k in changed if k in _NOW],
                      "after_reboot": [k for k in changed if k not in _NOW]})

    @app.get("/api/v1/status")
    async def status(req):
        return _json(dev.status)

    @app.get("/api/v1/modbus/requests")
    async def modbus_requests(req):
        return _json(dev.modbus.log.entries)

    @app.get("/api/v1/firmware")
    async def firmware(req):
        u = dev.updates()
        try:
            return _json({"version": dev.version, "secure_version": u.secure_version,
                          "build": dev.build, "board": dev.board, "slot": u.slot,
                          "previous": u.previous, "update": u.status()})
        finally:
            dev.release_updates()

    @app.post("/api/v1/firmware")
    async def upload_firmware(req):
        from web import upload

        version, refusal = await upload.receive(req, dev.updates(), dev.update_needs())
        if refusal is not None:
            dev.release_updates()
            return refusal
        asyncio.create_task(dev.reset("reboot"))  # after this answer has gone out
        return _json({"result": "verified", "version": version, "rebooting": True})

    @app.post("/api/v1/firmware/previous")
    async def previous_firmware(req):
        from web import upload

        try:
            version = dev.updates().revert(dev.update_needs())
        except ValueError as e:
            dev.release_updates()
            return upload.refusal(e)
        asyncio.create_task(dev.reset("reboot"))
        return _json({"result": "previous", "version": version, "rebooting": True})

    @app.post("/api/v1/reset")
    async def reset(req):
        try:
            mode = json.loads(req.body).get("mode")
        except (ValueError, UnicodeError, RuntimeError, AttributeError):
            mode = None
        if mode not in ("soft", "reboot", "factory"):
            return errors.response(400, "reset:invalid", "mode must be soft, reboot or "
                                   "factory", field="mode")
        asyncio.create_task(dev.reset(mode))  # after this answer has gone out
        return _json({"mode": mode, "result": "restarting"}, 202)

    @app.get("/api/v1/meter/telegram")
    async def telegram(req):
        raw = await dev.next_telegram(15000)
        if raw is None:
            return errors.response(504, "meter:silent", "no telegram within 15 s")
        return Response(raw, 200, {"Content-Type": "text/plain; charset=us-ascii",
                                   "Cache-Control": "no-store"})

    @app.get("/api/v1/events")
    async def stream(req):
        if events.streams >= events.max_streams:
            return errors.response(503, "http:busy", "too many event streams",
                                   headers={"Retry-After": "5"})
        # Served by web.http after this answer: nothing of the API's stays in use.
        req.g.follow = events.stream(
            None if "Authorization" in req.headers else req.cookies.get("sc_session"))
        return Response.already_handled

    @app.get("/favicon.ico")
    async def favicon(req):
        return Response("", 204)

    return app
