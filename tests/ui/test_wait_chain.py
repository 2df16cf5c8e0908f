"""Pilot tests of `w`: the selected thread's chain of waits, over recorded deadlocks, at 80
columns: the cycle drawn and marked, `w`/`esc` close it, a thread waiting on nobody gets
one line, and a hostile thread name is shown as the text it is (never Rich markup)."""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze
from pooltui.model import replace
from pooltui.report import load_report
from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from pooltui.ui.screens.main import MainScreen
from pooltui.ui.screens.waits import WaitChainScreen
from tests.ui.conftest import FIXTURES, pilot, screen_text, threads

pytestmark = pytest.mark.tui
NARROW = (80, 24)
ABBA = "abba-py3.12.json"
MARKUP = "[bold red]boom[/] [link=https://x]y[/link] $accent"


def abba():  # type: ignore[no-untyped-def]
    snap = analyze(load_report(FIXTURES / ABBA).snapshot)
    proc = snap.process(snap.root_pid)
    by_name = {t.name: t for t in proc.threads}
    return snap, by_name["transfer-a2b"].tid, by_name["transfer-b2a"].tid


async def open_chain(pilot, tid: int) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    threads(pilot.app).focus()
    threads(pilot.app).select_tid(tid)
    await pilot.pause()
    await pilot.press("w")
    await pilot.pause()


@pilot
async def test_w_draws_the_cycle_and_closes_again():
    snap, a2b, _ = abba()
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=NARROW) as pilot:
        await open_chain(pilot, a2b)
        assert isinstance(app.screen, WaitChainScreen)
        lines = screen_text(app).splitlines()
        box = [line for line in lines if "│" in line]
        drawn = "\n".join(lines)
        assert "chain of waits" in drawn and "esc closes" in drawn
        first = next(i for i, line in enumerate(box) if "● 'transfer-a2b'" in line)
        second = next(i for i, line in enumerate(box) if "● 'transfer-b2a'" in line)
        back = next(i for i, line in enumerate(box) if "↺ 'transfer-a2b'" in line)
        assert first < second < back
        assert "deadlock" in "\n".join(box[back : back + 2])
        assert "Bank.audit_lock" in drawn and "Bank.accounts_lock" in drawn
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WaitChainScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


@pilot
async def test_a_thread_waiting_on_nobody_gets_one_line():
    snap, _, _ = abba()
    control = next(t for t in snap.process(snap.root_pid).threads if t.name == "demo-control")
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=(160, 50)) as pilot:
        await open_chain(pilot, control.tid)
        assert isinstance(app.screen, WaitChainScreen)
        lines = screen_text(app).splitlines()
        top = next(i for i, line in enumerate(lines) if "chain of waits" in line)
        bottom = next(i for i, line in enumerate(lines) if "esc closes" in line)
        inside = lines[top + 1 : bottom]  # one sentence (wrapped in the box): no arrow, no other thread
        assert sum("● " in row for row in inside) == 1 and not any("─▶" in row or "↺" in row for row in inside)
        assert "● 'demo-control'" in inside[0] and "waits on nothing the wait-for graph follows" in inside[0]


@pilot
async def test_a_hostile_thread_name_is_text_not_markup():
    snap, a2b, b2a = abba()
    proc = snap.process(snap.root_pid)
    renamed = replace(proc, threads=tuple(replace(t, name=MARKUP) if t.tid == b2a else t for t in proc.threads))
    snap = snap.with_(processes=tuple(renamed if p.pid == proc.pid else p for p in snap.processes))
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=(160, 50)) as pilot:
        await open_chain(pilot, a2b)
        assert isinstance(app.screen, WaitChainScreen)
        assert f"● '{MARKUP}'" in screen_text(app)


@pilot
async def test_w_is_in_the_footer_the_help_and_the_palette():
    snap, a2b, _ = abba()
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        threads(app).focus()
        threads(app).select_tid(a2b)
        await pilot.pause()
        assert app.screen.check_action("wait_chain", ()) is True
        assert "w waits" in screen_text(app).splitlines()[-1]
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Waits" in commands
        await pilot.press("question_mark")
        await pilot.pause()
        assert "chain of waits" in screen_text(app)
