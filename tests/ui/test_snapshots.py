"""SVG snapshot tests (pytest-textual-snapshot) of the main view, the diff view, the help
screen and the save dialog, at 80x24 and 160x50, over recorded reports.

Deterministic: the times shown come from the snapshots (TZ pinned to UTC in conftest),
the Input cursor does not blink, textual/rich are pinned in pyproject.toml.
Update after an intended change with ``pytest tests/ui --snapshot-update`` and look at
the SVGs in tests/ui/__snapshots__ before committing them.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from pooltui.ui.app import PoolApp
from pooltui.ui.widgets.process_tree import ProcessTree
from pooltui.ui.widgets.threads import ThreadList
from tests.ui.conftest import FIRST, LATER, recorded, recorded_source

pytestmark = pytest.mark.tui
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 50), id="160x50")]


def select(function: str):  # type: ignore[no-untyped-def]
    """run_before: highlight the process whose main thread runs ``function``."""

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        tree = pilot.app.screen.query_one(ProcessTree)
        snap = pilot.app.session.current
        pid = next(p.pid for p in snap.processes for t in p.threads[:1] for f in t.frames if f.function == function)
        tree.highlighted = tree.pids.index(pid)
        await pilot.pause()

    return run


def no_blink(pilot) -> None:  # type: ignore[no-untyped-def]
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False


@pytest.mark.parametrize("size", SIZES)
def test_main_view(snap_compare, size):
    from pooltui.sources import RecordedSource

    app = PoolApp(RecordedSource(recorded(FIRST)))
    assert snap_compare(app, terminal_size=size, run_before=select("wait_for_lock"))


@pytest.mark.parametrize("size", SIZES)
def test_diff_view(snap_compare, size):
    app = PoolApp(recorded_source(FIRST, LATER))
    assert snap_compare(app, press=["x"], terminal_size=size, run_before=select("spin"))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, size):
    app = PoolApp(recorded_source(FIRST))
    assert snap_compare(app, press=["question_mark"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_save_dialog(snap_compare, size):
    app = PoolApp(recorded_source(FIRST))

    async def open_dialog(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("s")
        await pilot.pause()
        no_blink(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_dialog)


@pytest.mark.parametrize("size", SIZES)
def test_wait_chain_view(snap_compare, size):
    """`w` on a thread of an ABBA deadlock: its chain of waits round the cycle."""
    app = PoolApp(recorded_source("abba-py3.12.json"))

    async def open_chain(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        threads = pilot.app.screen.query_one(ThreadList)
        threads.focus()
        threads.select_tid(next(t.tid for t in threads.threads if t.name == "transfer-a2b"))
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_chain)
