"""`pooltui open` on reports that load but no capture would write (issue 14 item 10 and the
fuzz test's findings): the TUI shows them and every key works, no crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pooltui.model import loads
from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from tests.ui.conftest import FIRST, pilot

pytestmark = pytest.mark.tui
BASE = json.loads((Path(__file__).parent.parent / "fixtures" / FIRST).read_text())
KEYS = ["down", "down", "tab", "down", "enter", "escape", "x", "escape", "?", "escape", "s", "escape", "slash", "z", "escape"]


def _each_process(d, field, value):  # type: ignore[no-untyped-def]
    for p in d["snapshot"]["processes"]:
        p[field] = value(p) if callable(value) else value


CASES = {
    "no processes": lambda d: d["snapshot"].update(processes=[]),
    "root not among them": lambda d: d["snapshot"].update(root_pid=4000000),
    "its own parent": lambda d: _each_process(d, "ppid", lambda p: p["pid"]),
    "a parent cycle": lambda d: [
        p.update(ppid=d["snapshot"]["processes"][(i + 1) % len(d["snapshot"]["processes"])]["pid"]) for i, p in enumerate(d["snapshot"]["processes"])
    ],
    "no threads": lambda d: _each_process(d, "threads", []),
    "a thread twice": lambda d: [p["threads"].append(p["threads"][0]) for p in d["snapshot"]["processes"] if p["threads"]],
    "cpu 1e308": lambda d: _each_process(d, "cpu_percent", 1e308),
    "rss negative": lambda d: _each_process(d, "rss", -5),
    "line 2**62": lambda d: [f.update(line=2**62) for p in d["snapshot"]["processes"] for t in p["threads"] for f in t["frames"]],
    "escapes in names": lambda d: _each_process(d, "name", "\x1b[2J\u202e\udcff\n"),
}


@pytest.mark.parametrize("case", list(CASES))
@pilot
async def test_odd_but_loadable_reports_open(case):
    data = json.loads(json.dumps(BASE))
    CASES[case](data)
    report = loads(json.dumps(data))
    app = PoolApp(RecordedSource(report.snapshot, report.timeline, path="odd.json"))
    async with app.run_test(size=(120, 40)) as pilot:
        for key in KEYS:
            await pilot.press(key)
        await pilot.pause()
        assert app.is_running


@pilot
async def test_a_reports_host_cannot_steer_where_s_saves():
    """The save dialog's default name is built from the report's host: a loaded report's
    `../../etc/cron.d/x` stays one file name in the reports folder."""
    from textual.widgets import Input

    data = json.loads(json.dumps(BASE))
    data["snapshot"]["host"] = "../../../etc/cron.d/x\n"
    report = loads(json.dumps(data))
    app = PoolApp(RecordedSource(report.snapshot, report.timeline, path="odd.json"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        name = app.screen.query_one("#save-path", Input).value
    assert os.path.normpath(name) == name and "/etc/" not in name and "\n" not in name  # no ".." component, no newline
    assert Path(name).name.startswith("pooltui-") and "cron.d_x" in Path(name).name
