"""The dashboard's web server (aiohttp): one page, its script and style, plotly.js as the plotly
package ships it, and JSON data endpoints. Nothing else: every other path is 404, and no path of a
request is ever used to open a file (the files served are read once, at start, from the package).

Access: on a loopback address only requests that name a loopback host are served (a page of another
site cannot reach the dashboard through a DNS name pointing at 127.0.0.1); on any other address every
request needs the token printed at start, as Jupyter does: `?token=...` once, then a cookie.
Tokenless requests get 403.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import os
import re
import secrets
import signal
import sys

from aiohttp import web

from ..errors import UsageError
from .live import Dashboard

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
COOKIE = "designspace-dashboard-{port}"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
# raw request paths that try to leave the page's own names: dot segments, encoded dots, slashes and
# backslashes, empty segments
_ESCAPES = re.compile(r"(^|/)\.{1,2}(/|$)|%2e|%2f|%5c|\\|//", re.IGNORECASE)
SECURITY_HEADERS = {
    # the page loads its own script, style and data only: nothing from the internet, even by mistake
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def plotly_js_path() -> str:
    """plotly.min.js as the plotly package ships it (package_data/), so the page works offline."""
    import plotly

    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    if not os.path.isfile(path):
        raise UsageError(f"the plotly package has no plotly.min.js at {path}; reinstall plotly")
    return path


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every file the server sends: URL path -> (bytes, content type), read here once."""
    files = {"/": (os.path.join(HERE, "index.html"), "text/html"),
             "/static/dashboard.js": (os.path.join(HERE, "dashboard.js"), "text/javascript"),
             "/static/dashboard.css": (os.path.join(HERE, "dashboard.css"), "text/css"),
             "/static/plotly.min.js": (plotly_js_path(), "text/javascript")}
    out = {}
    for url, (path, kind) in files.items():
        with open(path, "rb") as fh:
            out[url] = (fh.read(), kind)
    return out


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(header: str) -> str:
    """The name of a Host header without its port ([::1]:8765 -> ::1)."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def _clean(o):
    """JSON-ready: non-finite floats -> None (JSON has no NaN)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def _json(request: web.Request, obj, status: int = 200) -> web.Response:
    body = json.dumps(_clean(obj), allow_nan=False, separators=(",", ":"), default=str)
    resp = web.Response(text=body, status=status, content_type="application/json")
    if len(body) > 16384:
        resp.enable_compression()
    return resp


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"error": f"no {what}"}), content_type="application/json")


def make_app(dashboard: Dashboard, token: str | None = None, host: str = "127.0.0.1") -> web.Application:
    """The dashboard's aiohttp application. token: required of every request (None: a loopback
    bind, where the Host header must name a loopback address instead)."""
    assets = _assets()

    async def asset(request: web.Request) -> web.Response:
        body, kind = assets[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8")

    app = web.Application(middlewares=[_guard(token, LOOPBACK_NAMES | {host.strip("[]").lower()})])
    for url in assets:
        app.router.add_get(url, asset, allow_head=False)
    api = _Api(dashboard)
    for url, handler in (("/api/state", api.state), ("/api/panel", api.panel), ("/api/model", api.model),
                         ("/api/claims", api.claims)):
        app.router.add_get(url, handler, allow_head=False)
    return app


def _guard(token: str | None, local_names: set):
    """The middleware every request passes: who may ask (the Host header on a loopback bind, the
    token elsewhere), which raw paths exist, and the security headers on every answer."""

    @web.middleware
    async def guard(request: web.Request, handler):
        if token is None:
            _check_host(request, local_names)
        else:
            _check_token(request, token)
        if _ESCAPES.search(request.raw_path.partition("?")[0]):
            raise web.HTTPNotFound()
        resp = await handler(request)
        resp.headers.update(SECURITY_HEADERS)
        return resp

    return guard


def _check_host(request: web.Request, local_names: set) -> None:
    if _hostname(request.headers.get("Host", "")).lower() not in local_names:
        raise web.HTTPForbidden(text="forbidden: this dashboard answers requests for localhost only\n")


def _check_token(request: web.Request, token: str) -> None:
    """Pass a request that carries the token (in the query or the cookie); the page opened with it
    is redirected to the bare address with the cookie set."""
    # one cookie per port, as Jupyter: two dashboards on one host keep their own tokens
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    cookie = COOKIE.format(port=sock[1] if sock else "")
    given = request.query.get("token")
    if given is not None and hmac.compare_digest(given.encode(), token.encode()):
        if request.path == "/":  # as Jupyter: the token once, then a cookie; the URL loses the token
            resp = web.HTTPFound("/")
            resp.set_cookie(cookie, token, httponly=True, samesite="Strict")
            raise resp
    elif not hmac.compare_digest(request.cookies.get(cookie, "").encode(), token.encode()):
        raise web.HTTPForbidden(text="forbidden: open the address with ?token=... that the dashboard "
                                     "printed when it started\n")


class _Api:
    """The JSON endpoints: each reads its query, asks the dashboard, and answers 404 for what is not there."""

    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    async def state(self, request: web.Request) -> web.Response:
        return _json(request, await self.dashboard.state())

    async def panel(self, request: web.Request) -> web.Response:
        out = await self.dashboard.panel(request.query.get("store", ""), request.query.get("sweep", ""),
                                         request.query.get("have"))
        if out is None:
            raise _not_found("such store or sweep")
        return _json(request, out)

    async def model(self, request: web.Request) -> web.Response:
        trial = request.query.get("trial", "")
        out = None if len(trial) > 200 else await self.dashboard.model(request.query.get("store", ""),
                                                                         request.query.get("sweep", ""), trial)
        if out is None:
            raise _not_found("such trial")
        return _json(request, out)

    async def claims(self, request: web.Request) -> web.Response:
        out = await self.dashboard.claims(request.query.get("folder", ""), request.query.get("have"))
        if out is None:
            raise _not_found("such reproduce folder")
        return _json(request, out)


async def serve(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 8765, out=None) -> None:
    """Serve until SIGINT or SIGTERM; prints the address to open (with the token where one is needed)."""
    out = out or sys.stdout
    token = None if is_loopback(host) else secrets.token_urlsafe(32)
    runner = web.AppRunner(make_app(dashboard, token, host), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                             f"choose another --port or --host") from None
        bound = runner.addresses[0][1]  # port 0: the one the system chose
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}/" + (f"?token={token}" if token else "")
        print(f"designspace dashboard: {url}", file=out, flush=True)
        if token:
            print(f"designspace dashboard: listening on {host}, not only this machine: every request needs the "
                  f"token above (open the address once; the browser keeps it in a cookie)", file=out, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("designspace dashboard: stopped", file=out, flush=True)
    finally:
        await runner.cleanup()
        dashboard.close()
