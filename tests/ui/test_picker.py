"""Pilot tests of the picker `pooltui attach` opens without a pid, over the census recorded by
scripts/record_census.py (hung and healthy demo pools, lone processes)."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable

from pooltui.analysis.census import hung_first, trees
from pooltui.model.census import Census, ProcFacts, census_loads
from pooltui.ui.picker import PickerApp
from tests.ui.conftest import FIXTURES, pilot, screen_text

pytestmark = pytest.mark.tui


class RecordedCensus:
    """A source with the picker's one method, over a recorded census; counts its reads."""

    description = "recorded census"

    def __init__(self, census: Census) -> None:
        self.census = census
        self.reads = 0

    async def trees(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        return hung_first(trees(self.census)), self.census


def _box() -> tuple[Census, dict]:
    census = census_loads((FIXTURES / "census" / "box.json").read_bytes())
    return census, json.loads((FIXTURES / "census" / "box.truth.json").read_text())


async def _ready(pilot, app) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        await pilot.pause()
        if app.screen.query(DataTable) and app.screen.query_one(DataTable).row_count:
            return
    raise AssertionError("the picker never filled its table")


@pilot
async def test_hung_trees_come_first_marked_and_enter_attaches_to_the_highlighted_one():
    census, truth = _box()
    hung = {int(pid) for pid, said in truth.items() if said["hung"]}
    app = PickerApp(RecordedCensus(census))
    async with app.run_test(size=(160, 48)) as pilot:
        await _ready(pilot, app)
        table = app.screen.query_one(DataTable)
        first = [int(str(table.get_row_at(i)[1])) for i in range(len(hung))]
        assert set(first) == hung
        marks = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert marks.count("!") == len(hung)
        text = screen_text(app)
        assert "looks hung" in text and "pooltui snapshot ROOT" in text
        await pilot.press("down", "enter")
    assert app.return_value == first[1]


@pilot
async def test_q_and_escape_leave_without_a_pid():
    census, _ = _box()
    for key in ("q", "escape"):
        app = PickerApp(RecordedCensus(census))
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(pilot, app)
            await pilot.press(key)
        assert app.return_value is None, key


@pilot
async def test_r_reads_the_list_again_and_an_unreadable_row_is_not_attached_to():
    gone = ProcFacts(pid=42, ppid=1, create_time=1.0, comm="python3", error="permission", error_message="cannot read the executable of process 42")
    census = Census(schema="pooltui.census/1", taken=10.0, host="h", window=0.25, cpus=2, processes=(gone,))
    source = RecordedCensus(census)
    app = PickerApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        assert "cannot read the executable" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running  # still picking: there is nothing to attach to
        await pilot.press("r")
        for _ in range(50):
            if source.reads == 2:
                break
            await pilot.pause()
        assert source.reads == 2
        await pilot.press("q")
    assert app.return_value is None
