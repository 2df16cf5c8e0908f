"""The TUI over time: the event log fills as captures come in, a worker that exited or
was replaced stays in the tree (dimmed) for a while with its last stacks, stuck threads
are marked, and the session's events come from analysis.timeline."""

from __future__ import annotations

import pytest

from pooltui.analysis import timeline
from pooltui.model import Diagnosis, Severity, replace
from pooltui.ui.app import PoolApp
from pooltui.ui.session import LINGER, Session
from tests.ui.conftest import FIRST, KILLED, LATER, ScriptedSource, pilot, recorded, screen_text, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


def victim(before, after) -> int:  # type: ignore[no-untyped-def]
    return next(p.pid for p in before.processes if after.process(p.pid) is None)


def test_session_logs_timeline_events_and_keeps_departed_workers_for_a_while():
    a, b = recorded(LATER), recorded(KILLED)
    session = Session(live=True)
    session.add(a)
    fresh = session.add(b)
    dead = victim(a, b)
    assert [(e.kind, e.pid) for e in fresh][:1] == [("process_exited", dead)]
    assert fresh == list(timeline.events_between(a, b))
    [gone] = session.lingering()
    assert gone.process.pid == dead and gone.how.startswith("replaced by ")
    session.add(b.with_(created=b.created + LINGER + 1))
    assert session.lingering() == []


@pilot
async def test_replaced_worker_stays_dimmed_and_the_event_log_fills_live():
    a, b = recorded(LATER), recorded(KILLED)
    source = ScriptedSource(a, b, root_pid=a.root_pid)
    app = PoolApp(source, interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "no process events yet" in screen_text(app)
        app.request_capture("refresh")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        dead = victim(a, b)
        row = next(line for line in text.splitlines() if f" {dead} " in line)
        assert "replaced by" in row  # still in the tree, saying what happened
        assert "exited: exit status" in text and "replaced by pool worker" in text  # the event log (wrapped)
        tree(app).highlighted = tree(app).pids.index(dead)
        await pilot.pause()
        assert "its last stacks" in screen_text(app)


@pilot
async def test_stuck_threads_are_marked():
    snap = recorded(FIRST)
    proc = next(p for p in snap.processes if p.role == "pool worker")
    thread = proc.threads[0]
    stuck = Diagnosis(
        kind="stuck_thread",
        severity=Severity.WARNING,
        summary="1 thread(s) stuck in x at y.py:1: the same stack and no CPU time for 6 s (3 samples).",
        pids=(proc.pid,),
        tids=(thread.tid,),
    )
    app = PoolApp(ScriptedSource(snap.with_(diagnoses=(stuck,)), root_pid=snap.root_pid), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tree(app).highlighted = tree(app).pids.index(proc.pid)
        await pilot.pause()
        text = screen_text(app)
        assert "‖ stuck 6 s" in text
        assert "no CPU time for 6 s" in text  # the diagnosis panel: sentence
        assert replace(thread, name=None).label in text or thread.label in text
