"""The cost of lock resolution (``make bench``, section ``locks``).

On a Pool(N) with every worker blocked on one multiprocessing lock the root holds
(demo/pool_size.py --mode blocked), measures:

* the lock-resolution step alone (``pipeline.read_facts``, the rounds of facts before the rules: /proc futex reads, the
  ``py-spy --locals`` dump of the first waiter, the object walk, every worker's SemLock
  copy, the holders' source lines, then ``analysis.finish``: holders, verdicts): wall, pooltui's own CPU and its
  py-spy CPU, per snapshot;
* the whole first snapshot (``LiveSource.capture`` from cold) with locks read and with
  ``CaptureOptions(locks=False)``, interleaved, best of the rounds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import bench_capture as cap

from pooltui import scenarios
from pooltui.analysis import finish, prepare
from pooltui.capture import procs, state
from pooltui.capture.snapshot import CaptureOptions, capture_tree
from pooltui.pipeline import read_facts
from pooltui.pipeline.live import LiveCollector

ROUNDS = 3


async def _step(root: int) -> tuple[float, float, float, int, int]:
    """(wall, own CPU, py-spy CPU, locks found, waiters whose holder is named) of one
    lock-resolution step, from cold (a new capture state, as a new source has)."""
    with state.active(state.CaptureState()):
        return await _measured_step(root)


async def _measured_step(root: int) -> tuple[float, float, float, int, int]:
    raw = await capture_tree(root, CaptureOptions(locks=False))
    prepared = await asyncio.to_thread(prepare, raw, None)
    cpu, children, start = time.process_time(), cap.children_cpu(), time.perf_counter()
    prepared = (await read_facts(LiveCollector(root), raw, prepared, CaptureOptions(), None)).prepared
    after = await asyncio.to_thread(finish, prepared)  # holders and verdicts from the facts read
    wall = time.perf_counter() - start
    named = sum(len(lock.waiters) for lock in after.locks if lock.holder is not None)
    return wall, time.process_time() - cpu, cap.children_cpu() - children, len(after.locks), named


def locks_row(workers: int = 64) -> dict[str, Any]:
    """Best of ``ROUNDS`` (the machine is shared: other load only ever adds time)."""
    with scenarios.start("pool_size", sys.executable, args=("--workers", str(workers), "--mode", "blocked"), timeout=240) as demo:
        processes = len(procs.walk_tree(demo.pid))
        steps, with_locks, without = [], [], []
        for _ in range(ROUNDS):
            steps.append(cap.run(_step(demo.pid)))
            with_locks.append(cap.run(cap.full(demo.pid, CaptureOptions(locks=True)))[0])
            without.append(cap.run(cap.full(demo.pid, CaptureOptions(locks=False)))[0])
    best = min(steps)
    return {
        "workers": workers,
        "processes": processes,
        "step_wall": best[0],
        "step_cpu": best[1],
        "step_pyspy_cpu": best[2],
        "locks": best[3],
        "waiters_named": best[4],
        "full_with_locks": min(with_locks),
        "full_without_locks": min(without),
    }
