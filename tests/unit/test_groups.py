"""``report.text`` grouping, the one rule the process tree, the Markdown and the HTML reports
share: processes alike (role, state, stacks, waits, the verdicts naming them) are one group;
the tree joins only sibling leaves, so a subtree keeps its parent row."""

from __future__ import annotations

from pooltui.analysis import analyze
from pooltui.model import Diagnosis, replace
from pooltui.report.text import group_processes, tree_groups, tree_rows
from tests.conftest import load_fixture


def logging_fork():  # type: ignore[no-untyped-def]
    raw, truth = load_fixture("logging_fork-py3.12")
    return analyze(raw), truth["truth"]["worker_pids"]


def test_workers_alike_are_one_group_and_a_verdict_keeps_its_subject_apart():
    snap, workers = logging_fork()
    procs = [snap.process(pid) for pid in workers]
    assert [tuple(p.pid for p in g) for g in group_processes(procs, snap.diagnoses)] == [tuple(workers)]
    stuck = Diagnosis(kind="stuck_thread", summary="stuck", pids=(workers[1],))
    groups = group_processes(procs, (*snap.diagnoses, stuck))
    assert [tuple(p.pid for p in g) for g in groups] == [(workers[0], workers[2]), (workers[1],)]
    assert [len(g) for g in group_processes(procs, snap.diagnoses, alone={procs[0].key})] == [1, 2]


def test_the_tree_groups_sibling_leaves_only_and_keeps_every_process():
    snap, workers = logging_fork()
    rows = tree_groups(snap.processes, snap.root_pid, snap.diagnoses)
    assert sorted(p.pid for _, g in rows for p in g) == sorted(p.pid for p in snap.processes)
    assert ("└─ ", tuple(snap.process(pid) for pid in workers)) in rows
    # a worker with a child of its own is a row of its own, its child under it
    child = replace(snap.process(workers[0]), pid=999999, ppid=workers[1], create_time=1e9)
    procs = (*snap.processes, child)
    rows = tree_groups(procs, snap.root_pid, snap.diagnoses)
    assert [(prefix, tuple(p.pid for p in g)) for prefix, g in rows][-2:] == [("└─ ", (workers[1],)), ("   └─ ", (999999,))]
    assert any(tuple(p.pid for p in g) == (workers[0], workers[2]) for _, g in rows)
    assert [p.pid for _, p in tree_rows(procs, snap.root_pid)] == [snap.root_pid, *workers[:2], 999999, workers[2]]
