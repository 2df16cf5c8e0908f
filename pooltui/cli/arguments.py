"""Argument parsing: the parser of every command, the validators of its values, and the
one-line usage error. Kept apart from the commands (``pooltui.cli``) that act on them."""

from __future__ import annotations

import argparse
import math
import os
from typing import NoReturn

from pooltui import __version__

EXIT_OK, EXIT_DIAGNOSIS, EXIT_USAGE, EXIT_ATTACH = 0, 1, 2, 3


class Fail(Exception):
    """A user-facing failure: one line on stderr, an exit code, no traceback."""

    def __init__(self, message: str, code: int, help: str = "") -> None:
        super().__init__(message)
        self.message, self.code, self.help = message, code, help


class Parser(argparse.ArgumentParser):
    """argparse with a usage error on one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def pid_arg(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a process id: {text!r} (expected a positive number)") from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"not a process id: {pid} (expected a positive number)")
    return pid


def pid_or_core_arg(text: str):  # type: ignore[no-untyped-def]
    """A process id (digits), or the path of a core file (anything else)."""
    if text.lstrip("+-").isdigit() or not os.path.lexists(text):
        try:
            return pid_arg(text)
        except argparse.ArgumentTypeError:
            if text.lstrip("+-").isdigit():
                raise
            raise argparse.ArgumentTypeError(f"not a process id, nor a file: {text!r} (expected a positive number or a core file)") from None
    return text


def _core_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exe", metavar="PYTHON", help="for a core file: the interpreter it ran (when the one the core names moved or differs)")
    p.add_argument("--sysroot", metavar="DIR", help="for a core file copied from another box: look up the files it names under DIR")


def _seconds(text: str, low: float, high: float) -> float:
    """A duration in seconds between ``low`` and ``high``: nan, inf and 1e-9 are usage errors,
    not a UI spinning at full CPU or a sleep that never ends."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} seconds: {text}")
    return value


def interval_arg(text: str) -> float:
    return _seconds(text, 0.5, 86400.0)


def timeout_arg(text: str) -> float:
    return _seconds(text, 0.5, 3600.0)


def port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"not a port: {port} (expected 1-65535)")
    return port


def _whole(text: str, low: int, high: int) -> int:
    """A whole number between ``low`` and ``high``, else a usage error saying which."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}: {value}")
    return value


def count_arg(text: str) -> int:
    return _whole(text, 1, 10000)


def sessions_arg(text: str) -> int:
    return _whole(text, 1, 64)


def _capture_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=pid_arg, help="the pool's root pid (default: found by walking up from PID)")
    p.add_argument("--locals", action="store_true", help="capture local variables (py-spy --locals)")
    p.add_argument("--native", action="store_true", help="include native C frames (py-spy --native; slower)")
    p.add_argument(
        "--nonblocking",
        action="store_true",
        help="never pause a process to read it (default: only a process with a running thread is paused, so its stacks are consistent)",
    )
    p.add_argument("--timeout", type=timeout_arg, default=10.0, help="seconds per py-spy dump (default 10)")
    p.add_argument("--no-redact", action="store_true", help="keep values of secret-looking locals and arguments (password, token, key, ...)")
    p.add_argument("--cores", metavar="DIR", help="where the core files of workers that crash are written (default: where core_pattern says)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pooltui",
        description="See inside a hung Python process pool: the process tree, every thread's stack, what it waits on.",
        epilog="Example: sudo pooltui snapshot 1234 --format md",
    )
    parser.add_argument("--version", action="version", version=f"pooltui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    snap = sub.add_parser(
        "snapshot",
        help="capture the tree once and write a report",
        description="Capture every process and Python thread of the pool that PID belongs to.",
        epilog="Examples: pooltui snapshot 1234 -o hang.json   |   pooltui snapshot 1234 --format md > hang.md   |   "
        "pooltui snapshot ./core --format md",
    )
    snap.add_argument("pid", type=pid_or_core_arg, metavar="PID|CORE", help="any process of the pool, or a core file of a Python process")
    snap.add_argument("-o", "--output", help="write the report here (format from the extension: .json .md .html)")
    snap.add_argument("--format", choices=("json", "md", "html"), help="report format (default: json for -o, md on stdout)")
    snap.add_argument("--samples", type=count_arg, default=1, help="take N samples and write a timeline report (default 1)")
    snap.add_argument("--interval", type=interval_arg, default=2.0, help="seconds between samples (default 2)")
    _capture_flags(snap)
    _core_flags(snap)

    attach = sub.add_parser(
        "attach",
        help="open the TUI on a running pool",
        description="Show the pool that PID belongs to, live: process tree, every thread's stack, what it waits on.",
        epilog="Examples: sudo pooltui attach   (pick the tree)   |   sudo pooltui attach 1234   |   pooltui attach 1234 --interval 5 --locals",
    )
    attach.add_argument("pid", nargs="?", type=pid_arg, help="any process of the pool (none: pick one from the list `pooltui ps` shows)")
    attach.add_argument("--interval", type=interval_arg, default=2.0, help="seconds between automatic refreshes (default 2)")
    _capture_flags(attach)

    ps = sub.add_parser(
        "ps",
        help="list every Python process tree on this machine, the hung-looking ones marked",
        description=(
            "Every Python process tree here (pools, executors, pre-fork servers, lone processes): root pid, program, roles, "
            "state, CPU, age, and a cheap verdict from kernel facts alone (no stack, no memory read). "
            "`pooltui snapshot ROOT` gives the real verdict; `pooltui attach` without a pid picks from this list."
        ),
        epilog="Examples: sudo pooltui ps   |   pooltui ps --format json | jq '.trees[] | select(.hung) | .root_pid'",
    )
    ps.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text; json: schema pooltui.ps/1)")
    ps.add_argument("--hung-first", action="store_true", help="list the hung-looking trees first (default: by root pid)")

    open_ = sub.add_parser(
        "open",
        help="open a saved report or a core file in the TUI",
        description="Show a report saved by `pooltui snapshot -o X.json` or the TUI's `s` key, or a core file of a Python "
        "process (told apart by content); no live process needed.",
        epilog="Examples: pooltui open pooltui-web1-1234-20250131-142501.json   |   pooltui open core.4242 --exe /usr/bin/python3.11",
    )
    open_.add_argument("report", metavar="REPORT|CORE", help="a pooltui JSON report, or a core file")
    _core_flags(open_)

    diff = sub.add_parser(
        "diff",
        help="compare two saved reports of one pool",
        description="What changed from report A to report B: processes added, exited or replaced, each thread's stack same or moved, new verdicts.",
        epilog="Examples: pooltui diff before.json after.json   |   pooltui diff a.json b.json --format json",
    )
    diff.add_argument("before", help="the older pooltui JSON report")
    diff.add_argument("after", help="the newer pooltui JSON report")
    diff.add_argument("--format", choices=("text", "md", "json"), default="text", help="output format (default text)")

    demo = sub.add_parser(
        "demo",
        help="start a bundled misbehaving pool and look at it",
        description="Start a demo scenario, wait until it reached its state, and show it.",
        epilog="Examples: pooltui demo --list   |   pooltui demo logging_fork",
    )
    demo.add_argument("scenario", nargs="?", default="logging_fork", help="scenario name (default: logging_fork)")
    demo.add_argument("--list", action="store_true", help="list the scenarios and exit")
    demo.add_argument(
        "--python",
        help="interpreter to run the scenario with: a version (3.12) or a path (default: this one; framework scenarios: a .demo-venvs one with it)",
    )
    demo.add_argument("--print", action="store_true", help="print a Markdown report instead of opening the TUI")
    demo.add_argument("--interval", type=interval_arg, default=2.0, help="seconds between automatic refreshes (default 2)")
    serve = sub.add_parser(
        "serve",
        help="serve the TUI to a web browser",
        description=(
            "Serve `pooltui attach PID` over HTTP (textual-serve): each browser tab gets its own live, read-only session, "
            "run as the user who started the server. Only who has the printed URL (it carries a random token) gets in; "
            "keep the default 127.0.0.1 and use an SSH tunnel."
        ),
        epilog="Examples: sudo pooltui serve 1234   (then open the URL it prints)   |   ssh -L 8000:127.0.0.1:8000 web1",
    )
    serve.add_argument("pid", type=pid_arg, help="any process of the pool")
    serve.add_argument("--port", type=port_arg, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback: anyone on the network who gets the token (sent in clear over HTTP) gets root's view of the pool",
    )
    serve.add_argument("--public-url", help="the URL browsers reach the server by, when it differs (a proxy; --host 0.0.0.0)")
    serve.add_argument(
        "--token",
        help="the access token (default: $POOLTUI_TOKEN or a new random one per start; at least 16 characters; "
        "a --token value is visible to every local user in `ps`, prefer the environment variable)",
    )
    serve.add_argument("--max-sessions", type=sessions_arg, default=2, help="browser sessions at once, each a capture process (default 2)")
    serve.add_argument("--interval", type=interval_arg, default=2.0, help="seconds between automatic refreshes (default 2)")
    _capture_flags(serve)
    doctor = sub.add_parser(
        "doctor",
        help="check that pooltui can attach here (py-spy, ptrace, Yama, containers)",
        description="Check py-spy, privileges, ptrace_scope and containers; with PID, also try a real dump of it and its children.",
        epilog="Examples: pooltui doctor   |   sudo pooltui doctor 1234",
    )
    doctor.add_argument("pid", nargs="?", type=pid_arg, help="a process of the pool to try (optional)")
    doctor.add_argument("--timeout", type=timeout_arg, default=10.0, help="seconds per trial dump (default 10)")
    return parser
