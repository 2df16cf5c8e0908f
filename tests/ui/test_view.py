"""What the main view shows for facts the recordings do not all carry: diagnoses with
evidence and fix, captured text holding terminal escapes or markup, a root that died."""

from __future__ import annotations

import pytest

from pooltui.model import Diagnosis, Severity, replace
from pooltui.ui.app import PoolApp
from tests.ui.conftest import FIRST, ScriptedSource, pid_of, pilot, recorded, screen_text, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


def source_of(snapshot):  # type: ignore[no-untyped-def]
    from pooltui.sources import RecordedSource

    return RecordedSource(snapshot)


@pilot
async def test_diagnoses_show_severity_evidence_fix_and_mark_the_tree():
    snap = recorded(FIRST)
    waiter = pid_of(snap, "wait_for_lock")
    verdict = Diagnosis(
        kind="lock_contention",
        severity=Severity.WARNING,
        summary="1 worker waits for LOCK held by pool worker #2",
        pids=(waiter,),
        evidence=(f"pid {waiter} waits at pool_target.py:41",),
        fix="Hold the lock only around the shared write.",
    )
    app = PoolApp(source_of(snap.with_(diagnoses=(verdict,))))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "diagnoses (1)" in text and "▲ warning  1 worker waits for LOCK" in text
        assert f"· pid {waiter} waits at pool_target.py:41" in text
        assert "fix: Hold the lock only around the shared write." in text
        row = next(line for line in text.splitlines() if f" {waiter} " in line and "pool worker" in line)
        assert "lock_contention" in row


@pilot
async def test_captured_escapes_and_markup_are_shown_as_text():
    snap = recorded(FIRST)
    root = snap.process(snap.root_pid)
    evil = replace(root.threads[0], name="evil\x1b[31m[bold]red[/bold]\x07")
    snap = snap.with_(processes=tuple(replace(p, threads=(evil, *p.threads[1:])) if p.pid == root.pid else p for p in snap.processes))
    app = PoolApp(source_of(snap))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "evil\\x1b[31m[bold]red[/bold]\\x07" in text  # escapes neutralised, markup not interpreted


@pilot
async def test_a_zombie_root_keeps_the_last_real_snapshot():
    first = recorded(FIRST)
    root = first.process(first.root_pid)
    dead = first.with_(created=first.created + 2, processes=(replace(root, status="zombie", threads=()),))
    app = PoolApp(ScriptedSource(dead), interval=3600, snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.target_gone and app.session.current is first
        assert len(tree(app).pids) == len(first.processes)
        text = screen_text(app)
        assert "target exited" in text and "exited" in text.split("events")[1]


@pilot
async def test_a_27_fork_child_with_ghost_threads_shows_its_wait():
    """CPython 2.7 workers carry the parent's thread states (all tid 0): every worker of
    the logging-after-fork recording can be selected and shows the orphaned lock (alike,
    they are one row of the tree: `g` shows each)."""
    from tests.conftest import load_fixture

    raw, truth = load_fixture("logging_fork-py2.7")
    app = PoolApp(source_of(raw))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert tuple(truth["truth"]["worker_pids"]) in tree(app).rows
        await pilot.press("g")
        for _ in truth["truth"]["worker_pids"]:
            await pilot.press("down")
            await pilot.pause()
            text = screen_text(app)
            assert "fork ghost" in text
            assert "does not exist in this process" in " ".join(text.split())
