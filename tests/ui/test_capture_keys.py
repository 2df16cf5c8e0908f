"""Pilot tests of the keys that capture (d, D, space, l, n) and of how capture results
and failures reach the screen; the sources answer with recorded snapshots."""

from __future__ import annotations

import asyncio

import pytest

from pooltui.ui.app import PoolApp
from tests.ui.conftest import FIRST, KILLED, LATER, ScriptedSource, pilot, recorded, recorded_source, screen_text, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


@pilot
async def test_live_only_keys_are_disabled_for_a_recorded_source():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        for action in ("dump", "dump_all", "pause", "toggle_native"):
            assert screen.check_action(action, ()) is None, action
        await pilot.press("d", "D", "space", "n")
        assert not app.session.paused and not app.session.capturing
        assert "recorded report" in screen_text(app)


@pilot
async def test_dump_keys_capture_again_and_space_pauses():
    first, later = recorded(FIRST), recorded(LATER)
    source = ScriptedSource(later, recorded(KILLED))
    app = PoolApp(source, interval=3600, snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(source.calls) == 1 and app.session.current is later and app.session.previous is first
        assert source.pids == [(tree(app).selected_pid,)]  # `d` re-dumps the selected process only
        await pilot.press("D")
        await app.workers.wait_for_complete()
        assert len(source.calls) == 2 and set(source.pids[1]) == {p.pid for p in later.processes}  # `D`: all of them afresh
        await pilot.press("space")
        await pilot.pause()
        assert app.session.paused and "paused" in screen_text(app)
        await pilot.press("space")
        await pilot.pause()
        assert not app.session.paused and "live · every 3600 s" in screen_text(app)


@pilot
async def test_auto_refresh_runs_until_paused_and_logs_process_events():
    later, killed = recorded(LATER), recorded(KILLED)
    source = ScriptedSource(killed)
    app = PoolApp(source, interval=0.05, snapshot=later)
    async with app.run_test(size=SIZE) as pilot:
        while not source.calls:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        kinds = [e.kind for e in app.session.events]
        assert "process_exited" in kinds and "worker_replaced" in kinds
        assert "replaced by pool worker" in screen_text(app)
        await pilot.press("space")
        await app.workers.wait_for_complete()
        count = len(source.calls)
        await pilot.pause(0.3)
        assert len(source.calls) == count


@pilot
async def test_progress_shows_and_ui_stays_responsive_while_capturing():
    first = recorded(FIRST)
    source = ScriptedSource(recorded(LATER))
    source.gate = asyncio.Event()
    app = PoolApp(source, interval=3600, snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D")
        await pilot.pause()
        assert app.session.capturing
        assert f"capturing 1/{len(first.processes)} processes" in screen_text(app)
        before = tree(app).selected_pid
        await pilot.press("down")  # keys still work while py-spy runs
        assert tree(app).selected_pid != before
        source.gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app.session.capturing and app.session.current.created == recorded(LATER).created


@pilot
async def test_locals_and_native_recapture_with_the_options():
    first = recorded(FIRST)
    source = ScriptedSource(first)
    app = PoolApp(source, interval=3600, snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await app.workers.wait_for_complete()
        assert source.calls[-1].locals and app.session.show_locals
        await pilot.pause()
        assert "waiter = <_thread.lock" in screen_text(app)  # the parent's Condition.wait locals
        await pilot.press("n")
        await app.workers.wait_for_complete()
        assert source.calls[-1].native and source.calls[-1].locals
        await pilot.press("l")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not source.calls[-1].locals and "waiter = <_thread.lock" not in screen_text(app)


@pilot
async def test_locals_toggle_on_a_report_shows_what_it_holds():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        assert "waiter = <_thread.lock" not in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert "waiter = <_thread.lock" in screen_text(app)


@pilot
async def test_target_gone_keeps_the_last_snapshot_and_disables_dumps():
    from pooltui.capture.errors import ProcessGone

    first = recorded(FIRST)
    source = ScriptedSource(ProcessGone("pid 8536 exited", pid=8536))
    app = PoolApp(source, interval=3600, snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.target_gone and app.session.current is first
        assert "target exited" in screen_text(app)
        assert app.screen.check_action("dump_all", ()) is None and app.screen.check_action("save", ()) is True


@pilot
async def test_other_capture_errors_are_reported_and_keep_the_view():
    from pooltui.capture.errors import PermissionDenied

    first = recorded(FIRST)
    source = ScriptedSource(PermissionDenied("cannot ptrace pid 8536", pid=8536))
    app = PoolApp(source, interval=3600, snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.last_error == "cannot ptrace pid 8536" and app.session.current is first
        assert "last refresh failed" in screen_text(app)
        assert any("ptrace" in n.message for n in app._notifications)
