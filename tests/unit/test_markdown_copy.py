"""Markdown that pastes well: the tree's columns stay aligned under long roles, and the
pieces the TUI's copy key puts on the clipboard (a thread, a process, the verdicts)."""

from __future__ import annotations

from pooltui.analysis import analyze
from pooltui.model import replace
from pooltui.report.markdown import diagnoses_markdown, process_markdown, render_markdown, thread_markdown
from tests.conftest import load_fixture


def test_tree_columns_stay_aligned_under_a_long_role():
    snap = analyze(load_fixture("logging_fork-py3.12")[0])
    long = replace(snap.processes[1], role="gunicorn worker (gthread, request handler pool)")
    snap = snap.with_(processes=(snap.processes[0], long, *snap.processes[2:]))
    md = render_markdown(snap)
    tree = md.split("## Process tree", 1)[1].split("```")[1].strip("\n").splitlines()
    cols = {line.index(" cpu ") for line in tree}
    assert len(tree) == len(snap.processes) and len(cols) == 1, tree


def test_copy_pieces():
    snap = analyze(load_fixture("logging_fork-py3.12")[0])
    worker = snap.process(snap.processes[1].pid)
    one = thread_markdown(worker, worker.threads[0])
    assert one.startswith(f"pid {worker.pid} — ") and one.count("```") == 2
    assert process_markdown(worker).count("```") == 2 * len(worker.threads)
    verdicts = diagnoses_markdown(snap)
    assert "`orphaned_lock`" in verdicts and verdicts.count("\n- **") == len(snap.diagnoses)


def test_identical_workers_and_threads_are_grouped_with_a_count():
    from pooltui.report.html import render_html

    raw, truth = load_fixture("logging_fork-py3.12")
    snap = analyze(raw)
    workers = truth["truth"]["worker_pids"]
    md = render_markdown(snap)
    heads = [line for line in md.splitlines() if line.startswith("### ")]
    assert len(heads) == 2 and f"{len(workers)} × pool worker" in heads[1] and all(str(p) in heads[1] for p in workers)
    html = render_html(snap)
    assert f"{len(workers)} × pool worker" in html
    # threads: the same stack in one process, named once with a count (a worker made of 5 copies of one thread)
    worker = snap.process(workers[0])
    many = replace(worker, threads=tuple(replace(worker.threads[0], tid=worker.threads[0].tid + i, name=f"handler-{i}") for i in range(5)))
    md = render_markdown(snap.with_(processes=(snap.processes[0], many)))
    assert md.count("**×5** with the same stack: handler-1, handler-2, handler-3, handler-4") == 1
    assert md.count("**handler-0**") == 1 and "**handler-1**" not in md


def test_a_lock_with_no_holder_says_why_not_held_by_its_note():
    """The Locks list read "held by a plain threading.Lock records no owner" for a plain Lock."""
    snap = analyze(load_fixture("fork_queue_lock-py3.11")[0])
    locks = render_markdown(snap).split("## Locks", 1)[1].split("\n## ", 1)[0]
    assert "mutex` (lock, pid " in locks and "): a plain threading.Lock records no owner" in locks, locks
    assert "held by a plain" not in locks
