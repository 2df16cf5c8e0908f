"""Command line: argument parsing and wiring. The only place that picks concrete sources.

Exit codes: 0 ok; 1 a diagnosis of severity error was found (snapshot); 2 usage or bad
input; 3 cannot attach (permission, not Python, gone).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn, Optional

from pooltui.cli.arguments import (  # Fail and build_parser are used through pooltui.cli too
    EXIT_ATTACH,
    EXIT_DIAGNOSIS,
    EXIT_OK,
    EXIT_USAGE,
    Fail,
    build_parser,
)
from pooltui.cli.streams import flush_standard_streams, guard_standard_streams, say, silence_stdout, write_stdout
from pooltui.model import ErrorCode, ProcessRole

if TYPE_CHECKING:  # imported where used: `pooltui --version` and `--help` load neither
    from pooltui.model import Snapshot, Source
    from pooltui.sources import LiveSource


def _fail_from_capture(exc: Exception) -> Fail:
    from pooltui.capture.errors import CaptureError

    assert isinstance(exc, CaptureError)
    return Fail(exc.message, exc.exit_code, exc.help)


def _live_source(args: argparse.Namespace, captures: Optional[int] = None) -> LiveSource:
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
        return LiveSource(args.pid, root=args.root, options=options, cores=getattr(args, "cores", None), captures=captures)
    except CaptureError as exc:
        raise _fail_from_capture(exc) from None


def _capture(source: Source) -> Snapshot:
    """``asyncio.run(source.capture())``, except that the main task returns nothing. On its
    way out, asyncio.run (3.11-3.13) asks ``signal.getsignal(SIGINT)``, which formats a
    ValueError with the repr of its handler, a partial holding the main task, whose repr
    holds the task's result: the whole Snapshot, twice (~10 ms each for Pool(64))."""
    import asyncio  # here, not at the top: `pooltui --version` and `--help` need no event loop

    box: list[Snapshot] = []

    async def main() -> None:
        box.append(await source.capture())

    asyncio.run(main())
    return box[0]


def _first_capture(source: Source, lost: str = "") -> Snapshot:
    """The first capture, or Fail when nothing of the tree could be read (``lost``: what the
    command then does not deliver, said in the message)."""
    from pooltui.capture.errors import CaptureError

    try:
        snapshot = _capture(source)
    except CaptureError as exc:
        raise _fail_from_capture(exc) from None
    readable = [p for p in snapshot.processes if p.threads]
    if not readable:
        root = snapshot.process(snapshot.root_pid)
        err = root.error if root is not None else None
        if err is not None and err.code == ErrorCode.PROCESS_GONE:
            # its help ("the rest of the tree is still shown") is for one process of a tree shown
            raise Fail(f"{err.message}; no other process of its tree could be read{lost}", EXIT_ATTACH)
        if err is not None:
            raise Fail(err.message, EXIT_ATTACH, err.help)
        raise Fail(f"no Python threads found under pid {snapshot.root_pid}{lost}", EXIT_ATTACH)
    return snapshot


def _core_source(path: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """A recorded source over the snapshot read from a core file; Fail (one line) when it cannot be read."""
    from pooltui.capture.coredump import read_core
    from pooltui.capture.errors import CaptureError
    from pooltui.sources import RecordedSource

    try:
        snapshot = read_core(path, exe=getattr(args, "exe", None), sysroot=getattr(args, "sysroot", None))
    except CaptureError as exc:
        raise Fail(exc.message, EXIT_USAGE) from None
    return RecordedSource(snapshot, path=path)


def _is_core(path: str) -> bool:
    from pooltui.capture.memory.core import looks_like_elf

    return looks_like_elf(path)


def cmd_snapshot(args: argparse.Namespace) -> int:
    from pooltui.model import Severity
    from pooltui.report import OutputError, check_output, format_for, render, save_report

    if args.output:
        try:
            check_output(args.output)
        except OutputError as exc:
            raise Fail(str(exc), EXIT_USAGE) from None
    if isinstance(args.pid, str):  # a core file
        source = _core_source(args.pid, args)
        snapshot = source.snapshot
        if getattr(args, "samples", 1) > 1:
            raise Fail("--samples needs a live process: a core file is one instant", EXIT_USAGE)
    else:
        source = _live_source(args, captures=max(1, getattr(args, "samples", 1)))
        snapshot = _first_capture(source, ": nothing was captured, so no report was written")
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
        say(f"pooltui: report written to {path}")
    else:
        write_stdout(render(snapshot, args.format or "md", timeline))
    errors = [d for d in snapshot.diagnoses if d.severity is Severity.ERROR]
    return EXIT_DIAGNOSIS if errors else EXIT_OK


def _more_samples(source: LiveSource, first: Snapshot, samples: int, interval: float) -> Snapshot:
    """Samples 2..N, ``interval`` seconds apart (start to start); the last one. The tree
    exiting meanwhile ends the series early: what was seen is still the report."""
    from pooltui.capture.errors import CaptureError, ProcessGone

    snapshot, started = first, time.monotonic()
    for n in range(1, samples):
        time.sleep(max(0.0, started + n * interval - time.monotonic()))
        try:
            snapshot = _capture(source)
        except ProcessGone:
            say(f"pooltui: the tree exited after {n} sample(s); the report holds those")
            break
        except CaptureError as exc:
            raise _fail_from_capture(exc) from None
    return snapshot


def cmd_attach(args: argparse.Namespace) -> int:
    from pooltui.cli.ps import pick_root
    from pooltui.ui.app import PoolApp

    if args.pid is None:
        args.pid = pick_root()
        if args.pid is None:
            return EXIT_OK  # the picker was left without a choice
    source = _live_source(args)
    say(f"pooltui: reading the tree of {source.description}…")
    snapshot = _first_capture(source)  # permission problems fail here, with exit 3 and the help text
    PoolApp(source, interval=args.interval, snapshot=snapshot).run()
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
        if snapshot.processes and all(p.role == ProcessRole.OTHER for p in snapshot.processes):
            snapshot = analyze(snapshot)  # a raw capture (test fixture): give it roles, waits, verdicts
        snapshots.append(snapshot)
    before, after = snapshots
    write_stdout(render_diff(diff_snapshots(before, after), args.format))
    return EXIT_OK


def cmd_open(args: argparse.Namespace) -> int:
    from pooltui.model import ReportError
    from pooltui.sources import RecordedSource
    from pooltui.ui.app import PoolApp

    if _is_core(args.report):
        source = _core_source(args.report, args)
    else:
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
        say(f"pooltui: scenario {args.scenario} is ready (pid {running.pid})")
        ns = argparse.Namespace(pid=running.pid, root=None, locals=False, native=False, nonblocking=False, timeout=10.0, interval=args.interval)
        if args.print:
            return cmd_snapshot(argparse.Namespace(**vars(ns), output=None, format="md"))
        return cmd_attach(ns)  # the scenario is stopped when the TUI exits


def cmd_doctor(args: argparse.Namespace) -> int:
    from pooltui import doctor

    checks = doctor.run(args.pid, args.timeout)
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"  # None: stdout closed
    try:
        "✔✘·—".encode(encoding)
        unicode = True
    except (UnicodeEncodeError, LookupError):
        unicode = False
    lines = [doctor.format_check(check, unicode) for check in checks] + [doctor.summary(checks, args.pid)]
    write_stdout("".join(f"{line}\n" for line in lines))
    return EXIT_OK if doctor.will_attach(checks) else EXIT_ATTACH


def cmd_ps(args: argparse.Namespace) -> int:
    from pooltui.cli.ps import cmd_ps as ps

    return ps(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from pooltui.cli import serve  # the web server's wiring: only for `pooltui serve`

    return serve.cmd_serve(args)


COMMANDS = {
    "ps": cmd_ps,
    "snapshot": cmd_snapshot,
    "attach": cmd_attach,
    "serve": cmd_serve,
    "open": cmd_open,
    "diff": cmd_diff,
    "demo": cmd_demo,
    "doctor": cmd_doctor,
}


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    guard_standard_streams()  # before anything is opened or printed: cron and systemd close them
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        code = COMMANDS[args.command](args)
    except Fail as exc:
        from pooltui.report.text import one_line  # a message may quote a target's name or path: one line, escaped

        say(f"pooltui: {one_line(exc.message)}")
        if exc.help:
            say(f"  {one_line(exc.help)}")
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        silence_stdout()
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
        flush_standard_streams()
        os._exit(exc.code)


if __name__ == "__main__":
    run()
