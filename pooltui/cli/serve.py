"""`pooltui serve`: the TUI in a web browser (textual-serve behind pooltui's guard, ui/serve.py)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Optional

from pooltui.cli.arguments import EXIT_OK, EXIT_USAGE, Fail
from pooltui.cli.streams import say


def _attach_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser session: ``attach`` with the same options."""
    argv = [sys.executable, "-m", "pooltui", "attach", str(args.pid), "--interval", str(args.interval), "--timeout", str(args.timeout)]
    if args.root:
        argv += ["--root", str(args.root)]
    flags = {"locals": "--locals", "native": "--native", "nonblocking": "--nonblocking", "no_redact": "--no-redact"}
    argv += [flag for name, flag in flags.items() if getattr(args, name)]
    return shlex.join(argv)


def _serve_token(given: Optional[str]) -> str:
    """--token, else $POOLTUI_TOKEN (removed from the environment the sessions inherit), else a new one."""
    from pooltui.ui.serve import MIN_TOKEN, TOKEN_ENV, new_token

    token = given if given is not None else os.environ.pop(TOKEN_ENV, None)
    if token is None:
        return new_token()
    if len(token) < MIN_TOKEN or not token.isprintable() or not token.isascii() or " " in token:
        raise Fail(f"the serve token must be at least {MIN_TOKEN} printable ASCII characters without spaces", EXIT_USAGE)
    return token


def cmd_serve(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    try:
        from pooltui.ui.serve import GuardedServer, is_loopback, resolves
    except ImportError as exc:  # an install without the serve extra (textual-serve, aiohttp)
        raise Fail(
            f"the browser view needs the serve extra (no module {exc.name}): "
            "pip install 'pooltui[serve]' (pipx: pipx install --force 'pooltui[serve]')",
            EXIT_USAGE,
        ) from None
    token = _serve_token(args.token)
    if not resolves(args.host):
        raise Fail(f"--host {args.host} is not an address to listen on: neither an IP address nor a name this machine resolves", EXIT_USAGE)
    remote = not is_loopback(args.host)
    if remote and not args.allow_remote:
        raise Fail(
            f"--host {args.host} is reachable from other machines: add --allow-remote to serve there anyway",
            EXIT_USAGE,
            "better: keep 127.0.0.1 and reach it with an SSH tunnel (ssh -L 8000:127.0.0.1:8000 HOST)",
        )
    from pooltui.cli import _first_capture, _live_source

    source = _live_source(args)
    _first_capture(source)  # permission problems fail here, with exit 3 and the help text, not in every browser tab
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = (args.public_url or f"http://{host}:{args.port}").rstrip("/")
    server = GuardedServer(
        _attach_command(args),
        token=token,
        max_sessions=args.max_sessions,
        host=args.host,
        port=args.port,
        title=f"pooltui · {source.description}",
        public_url=args.public_url.rstrip("/") if args.public_url else None,
    )
    if remote:
        say(
            f"pooltui: WARNING: serving on {args.host}, reachable from the network. Whoever has the URL below sees every "
            "stack of the pool as root; over plain HTTP the token can be read on the way. Prefer 127.0.0.1 and an SSH tunnel."
        )
    say(f"pooltui: serving the TUI of {source.description} (ctrl+c stops); open:")
    say(f"    {url}/?token={quote(token, safe='')}")
    try:
        server.serve()
    except OSError as exc:
        raise Fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_USAGE) from None
    return EXIT_OK
