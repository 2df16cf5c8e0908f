"""The process tree groups sibling processes alike (same role, stacks, wait and verdicts:
``report.text.tree_groups``, the rule the Markdown and HTML reports group by) into one row
with a count; `g` shows them one row each and back; a process a verdict names, or one that
could not be read, is never hidden in a group of processes the verdict does not name.
Pilot tests over the logging-after-fork recording, its workers copied to make a big pool."""

from __future__ import annotations

import time

import pytest

from pooltui.model import Diagnosis, ProcError, Snapshot, replace
from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from tests.conftest import load_fixture
from tests.ui.conftest import pilot, screen_text, threads, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


def big_pool(workers: int = 63) -> tuple[Snapshot, list[int]]:
    """The analysed logging_fork recording with ``workers`` copies of its first worker, each
    named by the orphaned-lock verdict as the recorded workers are; returns it and the worker pids."""
    from pooltui.analysis import analyze

    raw, truth = load_fixture("logging_fork-py3.12")
    snap = analyze(raw)
    first = snap.process(truth["truth"]["worker_pids"][0])
    pids = [100000 + i for i in range(workers)]
    copies = [
        replace(
            first,
            pid=pid,
            create_time=first.create_time + i,
            threads=tuple(replace(t, tid=pid if t.tid == first.pid else t.tid + i) for t in first.threads),
        )
        for i, pid in enumerate(pids)
    ]
    workers_of = set(truth["truth"]["worker_pids"])
    verdicts = tuple(replace(d, pids=tuple(pids)) if set(d.pids) == workers_of else d for d in snap.diagnoses)
    rest = tuple(p for p in snap.processes if p.pid not in workers_of)
    return snap.with_(processes=(*rest, *copies), diagnoses=verdicts), pids


async def on_screen(pilot, *words: str) -> str:  # type: ignore[no-untyped-def]
    """The screen once it shows every one of ``words`` (a loaded machine draws the footer late:
    the 60 s bound only ends a hang)."""
    deadline = time.monotonic() + 60
    while True:
        text = screen_text(pilot.app)
        if all(w in text for w in words) or time.monotonic() > deadline:
            return text
        await pilot.pause(0.05)


def row_of(app: PoolApp, pid: int) -> tuple[int, ...]:
    return next(row for row in tree(app).rows if pid in row)


@pilot
async def test_63_alike_workers_are_one_row_with_a_count_and_g_shows_each():
    snap, workers = big_pool(63)
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert tree(app).option_count == len(snap.processes) - 62
        assert row_of(app, workers[0]) == tuple(workers)  # every member, in tree order
        text = await on_screen(pilot, "pool worker ×63", "g group")
        assert "pool worker ×63" in text and "g group" in text  # the footer says how to expand it
        row = tree(app).get_option_at_index(tree(app).rows.index(tuple(workers))).prompt.plain
        assert "orphaned_lock" in row and row.endswith("waits on BufferingHandler.flush_lock")  # the wait, once (cut to the pane)
        tree(app).select_pid(workers[0])
        text = await on_screen(pilot, "×63 alike")
        assert "×63 alike, these stacks: " + " ".join(map(str, workers[:3])) in text  # the title lists the members
        assert threads(app).selected.wait.lock_id  # one representative's stacks
        await pilot.press("g")
        await pilot.pause()
        assert tree(app).option_count == len(snap.processes)
        assert tree(app).selected_pid == workers[0]  # the selection stays on the process shown
        shown = []
        for _ in workers:
            await pilot.press("down")
            await pilot.pause()
            shown.append(tree(app).selected_pid)
        assert all((w,) in tree(app).rows for w in workers)  # each member is a row of its own
        assert set(workers) <= {*shown, workers[0]}  # and selectable, one after the other
        text = screen_text(app)
        assert "×63" not in text and "alike, these stacks" not in text
        tree(app).select_pid(workers[5])
        await pilot.press("g")
        await pilot.pause()
        assert tree(app).option_count == len(snap.processes) - 62
        assert tree(app).selected_pid == workers[5] and tree(app).selected_row == tuple(workers)  # shown in its group
        assert f"threads · pid {workers[5]}" in await on_screen(pilot, f"threads · pid {workers[5]}")


@pilot
async def test_a_worker_a_verdict_names_or_that_failed_is_not_hidden_in_the_group():
    snap, workers = big_pool(10)
    named, failed = workers[3], workers[7]
    error = ProcError(code="permission", message="py-spy was refused", help="run as root")
    snap = snap.with_(
        processes=tuple(replace(p, error=error, threads=()) if p.pid == failed else p for p in snap.processes),
        diagnoses=(*snap.diagnoses, Diagnosis(kind="stuck_thread", summary="stuck", pids=(named,))),
    )
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert row_of(app, named) == (named,) and row_of(app, failed) == (failed,)
        assert row_of(app, workers[0]) == tuple(w for w in workers if w not in (named, failed))
        assert "pool worker ×8" in await on_screen(pilot, "pool worker ×8")


@pilot
async def test_going_to_one_member_selects_it_inside_its_group_and_search_splits_it():
    snap, workers = big_pool(5)
    source = RecordedSource(snap)
    source.target_pid = workers[2]  # as `attach WORKER_PID`
    app = PoolApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert tree(app).selected_pid == workers[2] and tree(app).selected_row == tuple(workers)
        assert f"threads · pid {workers[2]}" in await on_screen(pilot, f"threads · pid {workers[2]}")
        await pilot.press("slash", *str(workers[4]), "enter")
        await pilot.pause()
        assert tree(app).rows == [(workers[4],)]  # the one member the search matches, on a row of its own
        await pilot.press("escape")
        await pilot.pause()
        assert row_of(app, workers[0]) == tuple(workers)
