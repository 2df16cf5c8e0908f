"""Command line: argument parsing and wiring. The only place that picks concrete sources.

Exit codes: 0 ok; 1 a diagnosis of severity error was found (snapshot); 2 usage or bad
input; 3 cannot attach (permission, not Python, gone).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import NoReturn, Optional

from pooltui import __version__

EXIT_OK, EXIT_DIAGNOSIS, EXIT_USAGE, EXIT_ATTACH = 0, 1, 2, 3


class Fail(Exception):
    """A user-facing failure: one line on stderr, an exit code, no traceback."""

    def __init__(self, message: str, code: int, help: str = "") -> None:
        super().__init__(message)
        self.message, self.code, self.help = message, code, help


def pid_arg(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a process id: {text!r} (expected a positive number)") from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"not a process id: {pid} (expected a positive number)")
    return pid


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return value


def _capture_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=pid_arg, help="the pool's root pid (default: found by walking up from PID)")
    p.add_argument("--locals", action="store_true", help="capture local variables (py-spy --locals)")
    p.add_argument("--native", action="store_true", help="include native C frames (py-spy --native; slower)")
    p.add_argument("--nonblocking", action="store_true", help="do not pause targets while reading (may show torn stacks)")
    p.add_argument("--timeout", type=positive_float, default=10.0, help="seconds per py-spy dump (default 10)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        epilog="Examples: pooltui snapshot 1234 -o hang.json   |   pooltui snapshot 1234 --format md > hang.md",
    )
    snap.add_argument("pid", type=pid_arg, help="any process of the pool")
    snap.add_argument("-o", "--output", help="write the report here (format from the extension: .json .md .html)")
    snap.add_argument("--format", choices=("json", "md", "html"), help="report format (default: json for -o, md on stdout)")
    _capture_flags(snap)

    demo = sub.add_parser(
        "demo",
        help="start a bundled misbehaving pool and look at it",
        description="Start a demo scenario, wait until it reached its state, and show it.",
        epilog="Examples: pooltui demo --list   |   pooltui demo logging_fork",
    )
    demo.add_argument("scenario", nargs="?", default="logging_fork", help="scenario name (default: logging_fork)")
    demo.add_argument("--list", action="store_true", help="list the scenarios and exit")
    demo.add_argument("--python", default=sys.executable, help="interpreter to run the scenario with")
    return parser


def _fail_from_capture(exc: Exception) -> Fail:
    from pooltui.capture.errors import CaptureError

    assert isinstance(exc, CaptureError)
    return Fail(exc.message, exc.exit_code, exc.help)


def _live_source(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pooltui.capture.errors import CaptureError
    from pooltui.capture.snapshot import CaptureOptions
    from pooltui.sources import LiveSource

    options = CaptureOptions(locals=args.locals, native=args.native, nonblocking=args.nonblocking, timeout=args.timeout)
    try:
        return LiveSource(args.pid, root=args.root, options=options)
    except CaptureError as exc:
        raise _fail_from_capture(exc) from None


def _first_capture(source) -> Snapshot:  # type: ignore[no-untyped-def]  # noqa: F821
    from pooltui.capture.errors import CaptureError

    try:
        snapshot = asyncio.run(source.capture())
    except CaptureError as exc:
        raise _fail_from_capture(exc) from None
    readable = [p for p in snapshot.processes if p.threads]
    if not readable:
        root = snapshot.process(snapshot.root_pid)
        err = root.error if root is not None else None
        if err is not None:
            raise Fail(err.message, EXIT_ATTACH, err.help)
        raise Fail(f"no Python threads found under pid {snapshot.root_pid}", EXIT_ATTACH)
    return snapshot


def cmd_snapshot(args: argparse.Namespace) -> int:
    from pooltui.model import Severity
    from pooltui.report import OutputError, format_for, render, save_report

    snapshot = _first_capture(_live_source(args))
    if args.output:
        try:
            path = save_report(args.output, snapshot, format_for(args.output, args.format))
        except OutputError as exc:
            raise Fail(str(exc), EXIT_USAGE) from None
        print(f"pooltui: report written to {path}", file=sys.stderr)
    else:
        sys.stdout.write(render(snapshot, args.format or "md"))
    errors = [d for d in snapshot.diagnoses if d.severity is Severity.ERROR]
    return EXIT_DIAGNOSIS if errors else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from pooltui import scenarios as demo

    if args.list:
        for name, line in demo.scenarios().items():
            print(f"{name:<16} {line}")
        return EXIT_OK
    try:
        running = demo.start(args.scenario, args.python)
    except demo.DemoError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    with running:
        print(f"pooltui: scenario {args.scenario} is ready (pid {running.pid})", file=sys.stderr)
        ns = argparse.Namespace(pid=running.pid, root=None, locals=False, native=False, nonblocking=False, timeout=10.0, output=None, format="md")
        return cmd_snapshot(ns)


COMMANDS = {"snapshot": cmd_snapshot, "demo": cmd_demo}


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        code = COMMANDS[args.command](args)
    except Fail as exc:
        print(f"pooltui: {exc.message}", file=sys.stderr)
        if exc.help:
            print(f"  {exc.help}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = EXIT_OK
    del started
    sys.exit(code)


if __name__ == "__main__":
    main()
