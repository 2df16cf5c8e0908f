"""Which pool worker is a replacement (one started for a worker that exited): what a fork
child's stack says first, the start times only where it says nothing (spawn, forkserver).
A healthy Pool(64) forked on a loaded machine started its last workers seconds after its
first: read as replacements, one idle at that instant drew a false lost_task (CI)."""

from __future__ import annotations

from pooltui.analysis.hangs import REPLACEMENT_GAP, is_replacement
from pooltui.model import Frame, Process, Thread

POOL = "/usr/lib/python3.11/multiprocessing/pool.py"


def _worker(pid: int, started: float, *forked_in: str) -> Process:
    frames = (Frame("get", "/usr/lib/python3.11/multiprocessing/queues.py", 376), Frame("worker", POOL, 114))
    frames += tuple(Frame(function, POOL, 1) for function in forked_in)
    return Process(pid=pid, ppid=1, create_time=started, threads=(Thread(tid=pid, ident=1, frames=frames),))


def test_a_late_worker_forked_by_pool_itself_is_of_the_first_batch():
    first = _worker(10, 100.0, "_repopulate_pool_static", "_repopulate_pool", "__init__")
    late = _worker(11, 100.0 + 3 * REPLACEMENT_GAP, "_repopulate_pool_static", "_repopulate_pool", "__init__")
    assert not is_replacement(late, [first, late])


def test_a_worker_forked_by_the_worker_handler_is_a_replacement_however_early():
    first = _worker(10, 100.0, "__init__")
    new = _worker(11, 100.1, "_repopulate_pool_static", "_maintain_pool", "_handle_workers")
    assert is_replacement(new, [first, new])


def test_without_the_forking_frames_the_start_times_decide():
    first, late = _worker(10, 100.0), _worker(11, 100.0 + 2 * REPLACEMENT_GAP)
    assert is_replacement(late, [first, late]) and not is_replacement(first, [first, late])
