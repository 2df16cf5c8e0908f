"""Enter on a worker's death in the event log opens the core file it left, in the same view
``pooltui open CORE`` gives; escape goes back to the tree. The core is
tests/fixtures/core-pool-worker-py311.json, recorded with ``pooltui snapshot CORE -o`` from
the core of a 3.11 Pool worker that segfaulted in ``ctypes.string_at(0)`` inside its task."""

from __future__ import annotations

from typing import Optional

import pytest

from pooltui.model import CoreOpener, Event
from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from pooltui.ui.screens.core import CoreScreen
from pooltui.ui.screens.main import MainScreen
from pooltui.ui.widgets.panels import EventLog
from tests.ui.conftest import FIRST, pilot, recorded, recorded_source, screen_text

pytestmark = pytest.mark.tui
SIZE = (160, 50)
CORE = "core-pool-worker-py311.json"
DEAD = 9433  # the pid in the recorded core


class WithCores(RecordedSource):
    """A recorded tree whose log has a worker's death with a core (a LiveSource's part, CoreOpener)."""

    def __init__(self) -> None:
        base = recorded_source(FIRST)
        super().__init__(base.snapshot, base.timeline, path=base.path)
        when = base.snapshot.created
        self.events = (
            Event(when - 2, "process_new", 777, "pool worker #4 (pid 777) appeared"),
            Event(when - 1, "process_exited", DEAD, f"pool worker #1 (pid {DEAD}) exited: killed by SIGSEGV (core dumped); core /cores/core"),
            Event(when, "process_exited", 778, "pool worker #2 (pid 778) exited: killed by SIGKILL; not by the OOM killer"),
        )
        self.opened: list[int] = []

    def core_of(self, pid: int) -> Optional[str]:
        return "/cores/core" if pid == DEAD else None

    async def open_core(self, pid: int) -> RecordedSource:
        self.opened.append(pid)
        return RecordedSource(recorded(CORE), path="/cores/core")


@pilot
async def test_enter_on_a_death_opens_its_core_and_escape_goes_back():
    source = WithCores()
    assert isinstance(source, CoreOpener)
    app = PoolApp(source)
    async with app.run_test(size=SIZE) as pilot:
        log = app.screen.query_one(EventLog)
        log.focus()
        await pilot.pause()
        assert log.selected_event is not None and log.selected_event.pid == 778, "the newest event is selected first"
        await pilot.press("enter")  # a death without a core: said, nothing opened
        await pilot.pause()
        assert not isinstance(app.screen, CoreScreen) and source.opened == []
        await pilot.press("up")
        assert log.selected_event is not None and log.selected_event.pid == DEAD
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, CoreScreen):
                break
        assert isinstance(app.screen, CoreScreen) and source.opened == [DEAD]
        text = screen_text(app)
        assert "report /cores/core" in text and "core file · escape: back to the live tree" in text
        assert "string_at" in text and "parse_record" in text, "the crashed worker's stack, from the core"
        assert "crashed" in text
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen) is MainScreen
        assert "string_at" not in screen_text(app) and app.screen.query_one(EventLog).selected_event.pid == DEAD


@pilot
async def test_a_source_without_cores_opens_nothing():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one(EventLog).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen) is MainScreen
