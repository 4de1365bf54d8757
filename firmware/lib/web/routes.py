"""Microdot with exact paths only. Microdot keeps each route as a URLPattern that compiles
a regular expression the first time a request is matched against it, and matches a
request against every route in turn: for the API's 15 routes that is about 6 KB of the
device's heap while the API is loaded. The API has no path parameters, so a route here
is an entry of one dict, {path: {method: handler}}, found in one lookup."""
from microdot.microdot import Microdot

_NO_ARGS = {}  # no path parameters: the same empty keyword arguments for every request


class Routes(Microdot):
    def __init__(self):
        super().__init__()
        self.paths = {}
        self.options_handler = None  # no CORS, ever: OPTIONS is a method no route has

    def route(self, url_pattern, methods=None):
        def decorated(f):
            by_method = self.paths.setdefault(url_pattern, {})
            for m in methods or ("GET",):
                by_method[m] = f
            return f
        return decorated

    def find_route(self, req):
        """(handler, or 404 / 405, url prefix, subapplication) as Microdot's own."""
        req.url_args = _NO_ARGS
        by_method = self.paths.get(req.path)
        if by_method is None:
            return 404, "", None
        return by_method.get("GET" if req.method == "HEAD" else req.method, 405), "", None
