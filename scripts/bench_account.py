#!/usr/bin/env python3
"""Where the CPU of one ``pooltui snapshot`` goes (docs/speed.md: the command's accounting).

Runs the command in this process exactly as the console script does
(``pooltui.cli.main``), with the CPU time of this process (every thread) taken at phase
boundaries, and its py-spy children's CPU at exit::

    python scripts/bench_account.py snapshot ROOT -o r.json --format json

Phases: interpreter start (before this script), the imports the command makes, the
capture (``LiveSource.capture``: the walk and the dumps in ``capture_tree``, the lock step,
analysis), the report. A phase that a refactoring renamed is left out, not guessed.
"""

from __future__ import annotations

import atexit
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

STARTED = time.process_time()  # the interpreter's start and site, before this line

import asyncio  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent.parent))  # last: PYTHONPATH=OTHER_TREE measures that tree

BEFORE_IMPORTS = time.process_time()
import msgspec  # noqa: E402,F401  (imported by the command to write the report)

import pooltui.cli as cli  # noqa: E402
import pooltui.pipeline.live as live  # noqa: E402
import pooltui.report as report  # noqa: E402
from pooltui.capture import procs  # noqa: E402

IMPORTED = time.process_time()
SPENT: dict[str, float] = {}


def _sync(owner: Any, name: str, label: str) -> None:
    func = getattr(owner, name, None)
    if func is None:
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            SPENT[label] = SPENT.get(label, 0.0) + time.process_time() - start

    setattr(owner, name, timed)


def _async(owner: Any, name: str, label: str) -> None:
    func: Callable[..., Any] = getattr(owner, name, None)  # type: ignore[assignment]
    if func is None or not asyncio.iscoroutinefunction(func):
        return

    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()  # all threads: other work running meanwhile counts too
        try:
            return await func(*args, **kwargs)
        finally:
            SPENT[label] = SPENT.get(label, 0.0) + time.process_time() - start

    setattr(owner, name, timed)


_sync(procs, "walk_tree", "walk (psutil, /proc)")
_async(live, "capture_tree", "walk + dumps of every process (capture_tree)")
_async(live, "read_locks", "lock step: reads (with its --locals dump)")
_sync(cli, "_capture", "whole capture (LiveSource.capture)")
_sync(report, "save_report", "report written")


def _print() -> None:
    end = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [
        f"pooltui's own CPU {end * 1000:.0f} ms; py-spy children {(children.ru_utime + children.ru_stime) * 1000:.0f} ms",
        f"  interpreter start {STARTED * 1000:.0f} ms",
        f"  imports {(IMPORTED - BEFORE_IMPORTS) * 1000:.0f} ms",
        *(f"  {label} {seconds * 1000:.0f} ms" for label, seconds in SPENT.items()),
    ]
    print("\n".join(lines), file=sys.stderr)


atexit.register(_print)

if __name__ == "__main__":
    cli.main(sys.argv[1:])
