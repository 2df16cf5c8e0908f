"""Getting around by keyboard. `enter` on a thread blocked by an orphaned lock goes to the parent's thread that held it
at fork; where there is no holder the footer says "why no holder" and `enter` says why;
`attach WORKER_PID` opens with that worker selected (Pilot, recorded demo captures)."""

from __future__ import annotations

import pytest

from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from tests.conftest import load_fixture
from tests.ui.conftest import ScriptedSource, pilot, screen_text, threads, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


def footer_keys(app: PoolApp) -> dict[str, str]:
    """action -> description of the enabled keys the footer shows."""
    from textual.widgets._footer import FooterKey

    return {k.action: k.description for k in app.screen.query(FooterKey) if not k.has_class("-disabled")}


@pilot
async def test_enter_on_an_orphaned_lock_goes_to_the_thread_that_held_it_at_fork():
    snap, truth = load_fixture("logging_fork-py3.12")
    holder, worker = truth["truth"]["holder"], truth["truth"]["worker_pids"][0]
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != worker:
            await pilot.press("down")
        await pilot.press("tab")
        await pilot.pause()
        assert footer_keys(app).get("follow_fork") == "go to holder at fork"
        assert "enter: go to the parent's thread that held it at fork()" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert tree(app).selected_pid == holder["pid"]
        assert threads(app).selected.tid == holder["tid"] and threads(app).selected.name == "log-flusher"


@pilot
async def test_no_holder_to_go_to_is_said_in_the_footer_and_by_enter():
    snap, _ = load_fixture("plain_lock-py3.12")
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        current = app.session.current
        waiter = next(p.pid for p in current.processes for t in p.threads if t.wait is not None and t.wait.lock_id)
        while tree(app).selected_pid != waiter:
            await pilot.press("down")
        await pilot.press("tab")
        while not (threads(app).selected.wait and threads(app).selected.wait.lock_id):
            await pilot.press("down")
        await pilot.pause()
        assert footer_keys(app).get("why_no_holder") == "why no holder"
        await pilot.press("enter")
        await pilot.pause()
        assert tree(app).selected_pid == waiter  # nothing moved
        assert any("records no owner" in str(n.message) for n in app._notifications)


@pilot
async def test_attach_to_a_worker_opens_on_that_worker_in_the_whole_tree():
    snap, truth = load_fixture("logging_fork-py3.12")
    worker = truth["truth"]["worker_pids"][1]
    source = ScriptedSource(snap, root_pid=snap.root_pid)
    source.target_pid = worker  # as LiveSource: the pid given to `attach`, the root found from it
    app = PoolApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert tree(app).selected_pid == worker
        assert tree(app).pids[0] == snap.root_pid  # still rooted at the pool


@pilot
async def test_search_inside_stacks_and_next_previous_match():
    snap, truth = load_fixture("logging_fork-py3.12")
    workers = truth["truth"]["worker_pids"]
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"flush_lock", "enter")
        await pilot.pause()
        assert tree(app).pids == workers  # only the processes whose stacks hold it
        assert footer_keys(app).get("next_match") == "next match"
        assert tree(app).selected_pid == workers[0] and threads(app).selected.wait.lock_id
        seen = [tree(app).selected_pid]
        for _ in workers:
            await pilot.press("right_square_bracket")
            await pilot.pause()
            seen.append(tree(app).selected_pid)
        assert seen == [*workers, workers[0]]  # round to the first
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert tree(app).selected_pid == workers[-1]
        await pilot.press("escape")
        await pilot.pause()
        assert len(tree(app).pids) == len(snap.processes) and "next_match" not in footer_keys(app)
