"""Plain HTTP (port 80): one small page, whatever the path, linking to the HTTPS address
the device was reached by. No credentials and no API ever travel over it."""
from microdot.microdot import Microdot, Response

from web import errors

PAGE = ('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width"><title>Smart Connect</title></head><body>'
        '<h1>Smart Connect</h1><p>The configuration is served over a secure connection: '
        '<a href="%s">%s</a></p></body></html>')


def _host(header):
    """The name or IPv4 address the page was asked under, if it is a plain one (the Host
    header comes from the network: it is never echoed unchecked)."""
    host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    ok = 0 < len(host) <= 253 and all("a" <= c <= "z" or "0" <= c <= "9" or c in ".-"
                                      for c in host.lower())
    return host if ok else "smart-connect.local"


def build(https_port):
    app = Microdot()
    errors.on_short_heap(app)

    @app.errorhandler(404)
    async def landing(req):
        if req.method not in ("GET", "HEAD"):
            return errors.response(405, "http:method-not-allowed",
                                   "plain HTTP serves only this page; use HTTPS")
        host = _host(req.headers.get("Host", ""))
        url = "https://%s%s/" % (host, "" if https_port == 443 else ":%d" % https_port)
        return Response(PAGE % (url, url), 200, {"Content-Type": "text/html; charset=utf-8",
                                                 "Cache-Control": "no-store"})

    return app
