"""`pooltui serve`: the TUI in a web browser, over textual-serve, guarded.

Every browser session runs `pooltui attach` as the user who started the server (root, on
a production box), so the server lets in only who holds the token it printed:

* a random token per start (``secrets``), or the one given; every request without it is
  refused with 401 — the page, the static files, the websocket. A download's URL (built by
  textual.js, without the token) is let through only while that delivery exists: its key
  is 128 random bits announced over a websocket that had the token;
* the ``Host`` header must name this server (a loopback name, the ``--host`` or
  ``--public-url`` name, the machine's own names or an IP literal): a DNS-rebinding page
  is refused; an ``Origin`` header (every browser websocket has one) must be this
  server's own: a page of another site, or a ``file://`` page (``Origin: null``), is refused;
* at most ``max_sessions`` websocket sessions at once (each is one capture process);
* the page is self-contained: textual-serve's own page links a Google web font; this one
  uses the Roboto Mono copy textual-serve ships, and a Content-Security-Policy forbids
  anything not from this server;
* the attached app knows it runs in a browser (``App.is_web``): its save key offers the
  report as a browser download, never a file on the server's disk (ui.screens.save).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import json
import logging
import re
import secrets
import socket
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote, urlsplit

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

log = logging.getLogger("pooltui.serve")

TOKEN_ENV = "POOLTUI_TOKEN"
MIN_TOKEN = 16  # characters; a shorter one given with --token or the environment is refused
MAX_TERMINAL = 500  # columns or rows a browser may ask for
PAGE = Path(__file__).with_name("serve.html")
CSP = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` (an IP or a name) stands for is this machine's loopback."""
    name = host.strip("[]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        # AF_INET / AF_INET6 answers: the address is a str (typeshed also allows AF_PACKET's int)
        found = {a for *_, (a, *_) in socket.getaddrinfo(name, None) if isinstance(a, str)}
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in found)


def resolves(host: str) -> bool:
    """Whether ``host`` is an IP address or a name this machine resolves: one it could
    listen on (``999.1.1.1`` is neither: refused as such, not called "remote")."""
    name = host.strip("[]")
    if _is_ip(name):
        return True
    try:
        return bool(socket.getaddrinfo(name, None))
    except (OSError, UnicodeError):
        return False


def _loopback_literal(name: str) -> bool:
    """A loopback name or address as written (no DNS look-up: a page's host is hostile)."""
    name = name.strip("[]")
    return name in LOOPBACK_NAMES or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)


def _origin(url: str) -> Optional[tuple[str, str, int]]:
    """(scheme, host, port) of a URL, the default port filled in; None when it is not http(s)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _host_name(value: str) -> str:
    """The name part of a Host header or URL netloc, lower case, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class GuardedServer(Server):
    """textual-serve's Server with a token, Host/Origin checks, a session cap and an offline page."""

    def __init__(self, command: str, *, token: str, max_sessions: int, host: str, port: int, title: str, public_url: Optional[str] = None) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url)
        self.fixed_url = public_url is not None  # else the page's URLs follow the Host it was asked by (a tunnel's own port)
        self.token = token
        self.max_sessions = max_sessions
        self.sessions = 0
        names = {*LOOPBACK_NAMES, _host_name(host), _host_name(urlsplit(self.public_url).netloc)}
        if not is_loopback(host):  # listening on the network: the names this machine is reached by
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.hosts = {n for n in names if n}

    # -- checks ---------------------------------------------------------------------------

    def host_allowed(self, header: str) -> bool:
        if not _HOST.fullmatch(header):  # a name or [IPv6] and an optional port, nothing else (it is put into the page)
            return False
        name = _host_name(header)
        return bool(name) and (name in self.hosts or _is_ip(name))

    def origin_allowed(self, origin: str, host: str) -> bool:
        """The page that sent the request is this server's own: the same scheme, host and port
        as the URL the request came to (``http://`` and its Host header: a tunnel's port is
        the page's too) or as ``--public-url``. A page on another port of the same host (any
        other local service) is another origin."""
        given, here = _origin(origin), _origin(f"http://{host}")
        if given is None or here is None or not self.host_allowed(host):
            return False
        if self.fixed_url and given == _origin(self.public_url):
            return True
        # the host by name, or two loopback names of this machine (a page at 127.0.0.1 asking localhost)
        same_host = given[1] == here[1] or (_loopback_literal(given[1]) and _loopback_literal(here[1]))
        return given[0] == here[0] and given[2] == here[2] and same_host

    def has_token(self, request: web.Request) -> bool:
        given = request.match_info.get("token") or request.query.get("token", "")
        if not given:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            given = value.strip() if scheme.lower() in ("token", "bearer") else ""
        return bool(given) and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token.encode())

    def _active_download(self, request: web.Request) -> bool:
        key = request.match_info.get("key", "")
        active = getattr(self.download_manager, "_active_downloads", {})  # textual-serve 1.1's table of live deliveries
        return request.path.startswith("/download/") and key in active

    @web.middleware
    async def guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.host_allowed(request.host or ""):
            return _refuse(403, "pooltui: this server is not reached by that name (Host header refused)")
        origin = request.headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin, request.host or ""):
            return _refuse(403, "pooltui: requests from another site's page are refused (Origin header)")
        if not (self.has_token(request) or self._active_download(request)):
            return _refuse(401, "pooltui: this server needs the token `pooltui serve` printed: open the URL it printed (…/?token=…)")
        response = await handler(request)
        for name, value in (
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
        ):
            response.headers.setdefault(name, value)
        return response

    # -- the aiohttp app ------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/ws/{token}", self.handle_websocket),  # textual.js appends "?width=…" to the page's URL
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, show_index=False, follow_symlinks=False, name="static"),
            ]
        )
        return app

    async def on_startup(self, app: web.Application) -> None:  # textual-serve prints a banner and the command
        pass

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="pooltui serve: %(message)s")

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        nonce = secrets.token_urlsafe(16)
        token = quote(self.token, safe="")
        base = self.public_url.rstrip("/") if self.fixed_url else f"http://{request.host}"  # request.host passed the guard
        ws = ("wss:" if base.startswith("https") else "ws:") + base.split(":", 1)[1] + f"/ws/{token}"
        page = PAGE.read_text(encoding="utf-8")
        for name, value in (
            ("STATIC", f"{base}/static/"),
            ("TOKEN", token),
            ("WEBSOCKET", ws),
            ("TITLE", self.title),
            ("NONCE", nonce),
            ("FONTSIZE", str(_clamp(request.query.get("fontsize"), 16, 6, 64))),
        ):
            page = page.replace("{{" + name + "}}", html.escape(value, quote=True))
        response = web.Response(text=page, content_type="text/html")
        response.headers["Content-Security-Policy"] = CSP.format(nonce=nonce)
        return response

    # textual-serve 1.1 annotates its handler as returning a WebSocketResponse; aiohttp takes any
    # StreamResponse from a handler, and a refused session answers plain HTTP
    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        if self.sessions >= self.max_sessions:
            return _refuse(503, f"pooltui: {self.max_sessions} browser session(s) are open already (--max-sessions); close one")
        self.sessions += 1
        try:
            return await self._session(request)
        finally:
            self.sessions -= 1

    async def _session(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handle_websocket, with the terminal size bounded and bad messages ignored."""
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
        width = _clamp(request.query.get("width"), 80, 1, MAX_TERMINAL)
        height = _clamp(request.query.get("height"), 24, 1, MAX_TERMINAL)
        service: Optional[AppService] = None
        try:
            await websocket.prepare(request)
            service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                # textual-serve 1.1 passes websocket.close itself (server.py) though its annotation asks
                # for a coroutine of None: it awaits the call and drops the bool
                close=websocket.close,  # type: ignore[arg-type]
                download_manager=self.download_manager,
                debug=False,
            )
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.warning("a browser session failed: %s", error)
        finally:
            if service is not None:
                await service.stop()
        return websocket

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: AppService) -> None:
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not (isinstance(envelope, list) and len(envelope) == 2 and isinstance(envelope[0], str)):
                continue
            kind, data = envelope
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                width, height = _clamp(data.get("width"), 80, 1, MAX_TERMINAL), _clamp(data.get("height"), 24, 1, MAX_TERMINAL)
                await app_service.set_terminal_size(width, height)
            elif kind == "ping" and isinstance(data, (str, int, float)):
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()


def _clamp(value: Any, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return max(low, min(high, number))


def _refuse(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text + "\n", content_type="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response
