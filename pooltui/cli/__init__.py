"""Command line: argument parsing and wiring. The only place that picks concrete sources.

Exit codes: 0 ok; 1 a diagnosis of severity error was found (snapshot); 2 usage or bad
input; 3 cannot attach (permission, not Python, gone).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from typing import NoReturn, Optional

from pooltui.cli.arguments import (  # Fail and build_parser are used through pooltui.cli too
    EXIT_ATTACH,
    EXIT_DIAGNOSIS,
    EXIT_OK,
    EXIT_USAGE,
    Fail,
    build_parser,
)


def _fail_from_capture(exc: Exception) -> Fail:
    from pooltui.capture.errors import CaptureError

    assert isinstance(exc, CaptureError)
    return Fail(exc.message, exc.exit_code, exc.help)


def _live_source(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pooltui.capture.errors import CaptureError
    from pooltui.capture.snapshot import CaptureOptions
    from pooltui.sources import LiveSource

    options = CaptureOptions(
        locals=args.locals,
        native=args.native,
        nonblocking=args.nonblocking,
        timeout=args.timeout,
        redact=not getattr(args, "no_redact", False),
    )
    try:
        return LiveSource(args.pid, root=args.root, options=options)
    except CaptureError as exc:
        raise _fail_from_capture(exc) from None


def _capture(source) -> Snapshot:  # type: ignore[no-untyped-def]  # noqa: F821
    """``asyncio.run(source.capture())``, except that the main task returns nothing. On its
    way out, asyncio.run (3.11-3.13) asks ``signal.getsignal(SIGINT)``, which formats a
    ValueError with the repr of its handler, a partial holding the main task, whose repr
    holds the task's result: the whole Snapshot, twice (~10 ms each for Pool(64))."""
    import asyncio  # here, not at the top: `pooltui --version` and `--help` need no event loop

    box = []

    async def main() -> None:
        box.append(await source.capture())

    asyncio.run(main())
    return box[0]


def _first_capture(source) -> Snapshot:  # type: ignore[no-untyped-def]  # noqa: F821
    from pooltui.capture.errors import CaptureError

    try:
        snapshot = _capture(source)
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


def write_stdout(text: str) -> None:
    """Write a report to stdout, flushed here: a full disk or a closed stdout is a one-line
    error with exit 2 (exit 1 means "error found" to cron), not a traceback at exit."""
    out = sys.stdout
    if out is None:
        raise Fail("cannot write the report: stdout is closed (use -o FILE)", EXIT_USAGE)
    try:
        out.reconfigure(errors="backslashreplace")  # a terminal that is not UTF-8 still gets every line
    except (AttributeError, ValueError):
        pass
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise  # `| head`: the reader had enough (main exits 0)
    except OSError as exc:
        _silence_stdout()
        raise Fail(f"cannot write the report to stdout: {exc.strerror or exc} (use -o FILE)", EXIT_USAGE) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def cmd_snapshot(args: argparse.Namespace) -> int:
    from pooltui.model import Severity
    from pooltui.report import OutputError, check_output, format_for, render, save_report

    if args.output:
        try:
            check_output(args.output)
        except OutputError as exc:
            raise Fail(str(exc), EXIT_USAGE) from None
    source = _live_source(args)
    snapshot = _first_capture(source)
    samples = getattr(args, "samples", 1)
    timeline = None
    if samples > 1:
        snapshot = _more_samples(source, snapshot, samples, getattr(args, "interval", 2.0))
        timeline = source.as_timeline()
    if args.output:
        try:
            path = save_report(args.output, snapshot, format_for(args.output, args.format), timeline)
        except OutputError as exc:
            raise Fail(str(exc), EXIT_USAGE) from None
        print(f"pooltui: report written to {path}", file=sys.stderr)
    else:
        write_stdout(render(snapshot, args.format or "md", timeline))
    errors = [d for d in snapshot.diagnoses if d.severity is Severity.ERROR]
    return EXIT_DIAGNOSIS if errors else EXIT_OK


def _more_samples(source, first: Snapshot, samples: int, interval: float) -> Snapshot:  # type: ignore[no-untyped-def]  # noqa: F821
    """Samples 2..N, ``interval`` seconds apart (start to start); the last one. The tree
    exiting meanwhile ends the series early: what was seen is still the report."""
    from pooltui.capture.errors import CaptureError, ProcessGone

    snapshot, started = first, time.monotonic()
    for n in range(1, samples):
        time.sleep(max(0.0, started + n * interval - time.monotonic()))
        try:
            snapshot = _capture(source)
        except ProcessGone:
            print(f"pooltui: the tree exited after {n} sample(s); the report holds those", file=sys.stderr)
            break
        except CaptureError as exc:
            raise _fail_from_capture(exc) from None
    return snapshot


def cmd_attach(args: argparse.Namespace) -> int:
    from pooltui.ui.app import PoolApp

    source = _live_source(args)
    print(f"pooltui: reading the tree of {source.description}…", file=sys.stderr)
    snapshot = _first_capture(source)  # permission problems fail here, with exit 3 and the help text
    PoolApp(source, interval=args.interval, snapshot=snapshot).run()
    return EXIT_OK


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
        from pooltui.ui.serve import GuardedServer, is_loopback
    except ImportError as exc:  # an install without the serve extra (textual-serve, aiohttp)
        raise Fail(
            f"the browser view needs the serve extra (no module {exc.name}): "
            "pip install 'pooltui[serve]' (pipx: pipx install --force 'pooltui[serve]')",
            EXIT_USAGE,
        ) from None
    token = _serve_token(args.token)
    remote = not is_loopback(args.host)
    if remote and not args.allow_remote:
        raise Fail(
            f"--host {args.host} is reachable from other machines: add --allow-remote to serve there anyway",
            EXIT_USAGE,
            "better: keep 127.0.0.1 and reach it with an SSH tunnel (ssh -L 8000:127.0.0.1:8000 HOST)",
        )
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
        print(
            f"pooltui: WARNING: serving on {args.host}, reachable from the network. Whoever has the URL below sees every "
            "stack of the pool as root; over plain HTTP the token can be read on the way. Prefer 127.0.0.1 and an SSH tunnel.",
            file=sys.stderr,
        )
    print(f"pooltui: serving the TUI of {source.description} (ctrl+c stops); open:", file=sys.stderr)
    print(f"    {url}/?token={quote(token, safe='')}", file=sys.stderr)
    try:
        server.serve()
    except OSError as exc:
        raise Fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_USAGE) from None
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from pooltui.analysis import analyze
    from pooltui.analysis.diff import diff_snapshots
    from pooltui.model import ReportError
    from pooltui.report import load_report
    from pooltui.report.diff import render_diff

    snapshots = []
    for path in (args.before, args.after):
        try:
            snapshot = load_report(path).snapshot
        except ReportError as exc:
            raise Fail(str(exc), EXIT_USAGE) from None
        if snapshot.processes and all(p.role == "other" for p in snapshot.processes):
            snapshot = analyze(snapshot)  # a raw capture (test fixture): give it roles, waits, verdicts
        snapshots.append(snapshot)
    write_stdout(render_diff(diff_snapshots(*snapshots), args.format))
    return EXIT_OK


def cmd_open(args: argparse.Namespace) -> int:
    from pooltui.model import ReportError
    from pooltui.sources import RecordedSource
    from pooltui.ui.app import PoolApp

    try:
        source = RecordedSource.from_file(args.report)
    except ReportError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    PoolApp(source).run()
    return EXIT_OK


def _demo_python(scenario: str, wanted: Optional[str]) -> str:
    """--python as a version ("3.12": pyenv's, or a demo virtualenv with the framework) or a path."""
    from pooltui import scenarios as demo

    if wanted is None:
        return demo.python_for(scenario) or sys.executable
    if re.fullmatch(r"\d+(\.\d+)?", wanted):
        found = demo.python_for(scenario, wanted)
        if found is None:
            hint = "see `pyenv versions`; `make demo-venvs` for the framework scenarios"
            raise Fail(f"no Python {wanted} that can run {scenario} was found", EXIT_USAGE, hint)
        return found
    if not (os.path.isfile(wanted) and os.access(wanted, os.X_OK)):
        raise Fail(f"--python {wanted}: not an executable file", EXIT_USAGE, "give a version (3.12) or the path of an interpreter")
    return wanted


def cmd_demo(args: argparse.Namespace) -> int:
    from pooltui import scenarios as demo

    if args.list:
        for name, line in demo.scenarios().items():
            print(f"{name:<16} {line}")
        return EXIT_OK
    python = _demo_python(args.scenario, args.python)
    try:
        running = demo.start(args.scenario, python)
    except demo.DemoError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    with running:
        print(f"pooltui: scenario {args.scenario} is ready (pid {running.pid})", file=sys.stderr)
        ns = argparse.Namespace(pid=running.pid, root=None, locals=False, native=False, nonblocking=False, timeout=10.0, interval=args.interval)
        if args.print:
            return cmd_snapshot(argparse.Namespace(**vars(ns), output=None, format="md"))
        return cmd_attach(ns)  # the scenario is stopped when the TUI exits


def cmd_doctor(args: argparse.Namespace) -> int:
    from pooltui import doctor

    checks = doctor.run(args.pid, args.timeout)
    encoding = sys.stdout.encoding or "ascii"
    try:
        "✔✘·—".encode(encoding)
        unicode = True
    except (UnicodeEncodeError, LookupError):
        unicode = False
    for check in checks:
        print(doctor.format_check(check, unicode))
    print(doctor.summary(checks, args.pid))
    return EXIT_OK if doctor.will_attach(checks) else EXIT_ATTACH


COMMANDS = {
    "snapshot": cmd_snapshot,
    "attach": cmd_attach,
    "serve": cmd_serve,
    "open": cmd_open,
    "diff": cmd_diff,
    "demo": cmd_demo,
    "doctor": cmd_doctor,
}


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        code = COMMANDS[args.command](args)
    except Fail as exc:
        from pooltui.report.text import one_line  # a message may quote a target's name or path: one line, escaped

        print(f"pooltui: {one_line(exc.message)}", file=sys.stderr)
        if exc.help:
            print(f"  {one_line(exc.help)}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        _silence_stdout()
        code = EXIT_OK
    del started
    global _DONE
    _DONE = args.command == "snapshot"
    sys.exit(code)


_DONE = False  # main() ran a one-shot command to its end: nothing is left to clean up


def run() -> NoReturn:
    """The ``pooltui`` script and ``python -m pooltui``: ``main``, after which a one-shot
    command (``snapshot``: its report written atomically, its output flushed here) exits
    without tearing the interpreter down. Freeing a Pool(64) capture's objects one by one
    and joining idle threads took ~28 ms of a ~360 ms ``pooltui snapshot`` (mypy's
    ``hard_exit`` does the same). ``main`` itself exits normally: tests call it."""
    try:
        main()
    except SystemExit as exc:
        if not _DONE or not isinstance(exc.code, int):
            raise
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said there
                pass
        os._exit(exc.code)


if __name__ == "__main__":
    run()
