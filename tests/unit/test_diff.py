"""analysis.diff on recorded snapshots of one pool (tests/fixtures/tui-pool-*.json):
a few seconds apart, and after a worker was SIGKILLed and replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from pooltui.analysis.diff import Change, diff_process, diff_snapshots, process_events, same_stack
from pooltui.model import Frame, Local, replace
from pooltui.report import load_report

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="module")
def snaps():
    return {name: load_report(FIXTURES / f"tui-pool-{name}.json").snapshot for name in ("py311", "py311-later", "killed-py311")}


def pid_running(snapshot, function):
    return next(p.pid for p in snapshot.processes for t in p.threads for f in t.frames if f.function == function)


def test_a_snapshot_against_itself_has_no_change(snaps):
    s = snaps["py311"]
    d = diff_snapshots(s, s)
    assert not d.added and not d.removed and len(d.kept) == len(s.processes)
    assert all(t.change is Change.SAME for p in d.kept for t in p.threads)
    assert process_events(d) == ()


def test_same_tree_seconds_apart_keeps_every_process_and_measures_cpu(snaps):
    a, b = snaps["py311"], snaps["py311-later"]
    d = diff_snapshots(a, b)
    assert d.seconds > 0 and not d.added and not d.removed
    spinner = d.process(pid_running(b, "spin"))
    holder = d.process(pid_running(b, "hold_lock"))
    assert spinner is not None and holder is not None
    assert spinner.cpu_percent(d.seconds) > 10  # a busy loop burns CPU (shared with py-spy and the rest of the machine)
    assert holder.cpu_percent(d.seconds) < 5  # asleep holding the lock
    assert not holder.moved  # a stuck thread: the same stack in both snapshots
    assert holder.count(Change.SAME) == len(holder.after.threads)


def test_killed_worker_is_removed_and_its_replacement_added(snaps):
    b, c = snaps["py311-later"], snaps["killed-py311"]
    d = diff_snapshots(b, c)
    victim = pid_running(b, "spin")
    assert [p.pid for p in d.removed] == [victim]
    assert len(d.added) == 1 and d.added[0].role == "pool worker"
    events = process_events(d)
    assert [(e.kind, e.pid) for e in events] == [("process_exited", victim), ("worker_replaced", d.added[0].pid)]
    assert all(e.time == c.created for e in events)
    assert "replaced by pool worker" in events[1].detail


def test_a_reused_pid_is_a_new_process(snaps):
    a = snaps["py311"]
    worker = next(p for p in a.processes if p.role == "pool worker")
    reborn = replace(worker, create_time=worker.create_time + 100)
    b = a.with_(processes=tuple(reborn if p.pid == worker.pid else p for p in a.processes))
    d = diff_snapshots(a, b)
    assert [p.key for p in d.removed] == [worker.key] and [p.key for p in d.added] == [reborn.key]
    assert d.process(worker.pid) is None


def test_threads_changed_new_and_gone(snaps):
    proc = next(p for p in snaps["py311"].processes if p.pid == snaps["py311"].root_pid)
    main, *others = proc.threads
    moved = replace(main, frames=(Frame("elsewhere", "/app/x.py", 3), *main.frames[1:]))
    newcomer = replace(others[0], tid=999999, ident=1)
    after = replace(proc, threads=(moved, newcomer, *others[1:]))
    pd = diff_process(proc, after)
    changes = {t.tid: t.change for t in pd.threads}
    assert changes[main.tid] is Change.CHANGED
    assert changes[999999] is Change.NEW
    assert changes[others[0].tid] is Change.GONE
    assert all(changes[t.tid] is Change.SAME for t in others[1:])
    changed = next(t for t in pd.threads if t.tid == main.tid)
    assert changed.first_difference == len(main.frames) - 1  # only the innermost frame moved
    assert pd.moved and [t.tid for t in pd.threads][-1] == others[0].tid  # vanished threads listed last


def test_locals_and_source_text_do_not_make_a_stack_change(snaps):
    thread = next(t for p in snaps["py311"].processes for t in p.threads if t.frames)
    inner = replace(thread.frames[0], locals=(Local("x", "1"),), code="changed on disk")
    assert same_stack(thread, replace(thread, frames=(inner, *thread.frames[1:])))
    assert not same_stack(thread, replace(thread, frames=(replace(inner, line=inner.line + 1), *thread.frames[1:])))


def test_cpu_percent_unknown_without_cpu_times(snaps):
    proc = snaps["py311"].processes[0]
    pd = diff_process(replace(proc, cpu_time=None), proc)
    assert pd.cpu_percent(2.0) is None and diff_process(proc, proc).cpu_percent(0) is None
