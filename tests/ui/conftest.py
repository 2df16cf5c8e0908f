"""Sources for the TUI tests, all built from real recordings in tests/fixtures.

tui-pool-py311*.json were recorded with ``pooltui snapshot PID --locals -o ...`` from
tests/ui/pool_target.py (Pool(3): a spinner, a lock holder, a waiter whose wait names
the lock and its holder, plus a `sleep` child): ``-later`` a few seconds after the
first, ``-killed`` after the spinning worker was SIGKILLed and the pool had replaced it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from pooltui.model import Snapshot, Timeline
from pooltui.report import load_report
from pooltui.ui.app import PoolApp
from pooltui.ui.widgets.process_tree import ProcessTree
from pooltui.ui.widgets.threads import ThreadList

FIXTURES = Path(__file__).parent.parent / "fixtures"
FIRST, LATER, KILLED = "tui-pool-py311.json", "tui-pool-py311-later.json", "tui-pool-killed-py311.json"


@pytest.fixture(autouse=True, scope="session")
def reports_home(tmp_path_factory):
    """The save dialog's default folder (~/pooltui-reports) lands in a scratch HOME, not the tester's."""
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))
    os.environ.pop("POOLTUI_REPORTS", None)
    yield
    if old is not None:
        os.environ["HOME"] = old


@pytest.fixture(autouse=True, scope="session")
def utc_clock():
    """Times on screen are local time: pin the zone so screenshots do not depend on the machine."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def recorded(name: str = FIRST) -> Snapshot:
    return load_report(FIXTURES / name).snapshot


def recorded_source(*names: str):  # type: ignore[no-untyped-def]
    """A RecordedSource over the last name, with the others as its timeline (oldest first)."""
    from pooltui.sources import RecordedSource

    snapshots = [recorded(n) for n in names or (FIRST,)]
    timeline = Timeline(snapshots=tuple(snapshots)) if len(snapshots) > 1 else None
    name = (names or (FIRST,))[-1]
    return RecordedSource(snapshots[-1], timeline, path=f"tests/fixtures/{name}")  # relative: screenshots must not show the checkout's path


@dataclass(frozen=True)
class Options:
    """Stands in for capture's CaptureOptions (a dataclass with these flags)."""

    locals: bool = False
    native: bool = False


class ScriptedSource:
    """A live source that answers with recorded snapshots (or raises), one per capture,
    and remembers the options it was asked with. ``gate`` holds a capture until set."""

    live = True
    description = "pid 8536"
    target_pid = None
    history: tuple[Snapshot, ...] = ()  # no History of its own: the session keeps one
    events = ()

    def __init__(self, *answers, root_pid: int = 8536) -> None:  # type: ignore[no-untyped-def]
        self.answers = list(answers)
        self.root_pid = root_pid
        self.options = Options()
        self.calls: list[Options] = []
        self.pids: list[Optional[tuple[int, ...]]] = []  # what each capture was asked to dump afresh (None: a refresh)
        self.gate: Optional[asyncio.Event] = None

    async def capture(self, *, progress=None, options=None, pids=None) -> Snapshot:  # type: ignore[no-untyped-def]
        self.calls.append(options)
        self.pids.append(pids)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        total = len(answer.processes) if isinstance(answer, Snapshot) else 1
        if progress is not None:
            progress(1, total)
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(answer, BaseException):
            raise answer
        return answer


def pilot(fn):  # type: ignore[no-untyped-def]
    """Run an async test body (pytest-asyncio is not a dependency)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        asyncio.run(fn(*args, **kwargs))

    return run


def _screen_text(app: PoolApp) -> list[str]:
    """The screen as lines of text, as a terminal would show it."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, record=True, file=open(os.devnull, "w"), color_system=None)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text(styles=False).splitlines()


def screen_text(app: PoolApp) -> str:
    return "\n".join(_screen_text(app))


def tree(app: PoolApp) -> ProcessTree:
    return app.screen.query_one(ProcessTree)


def threads(app: PoolApp) -> ThreadList:
    return app.screen.query_one(ThreadList)


def pid_of(snapshot, function: str) -> int:  # type: ignore[no-untyped-def]
    return next(p.pid for p in snapshot.processes for t in p.threads for f in t.frames if f.function == function)
