"""oversubscribed -- more CPU-bound workers than CPUs, all spinning.

Real-world incident: a Pool sized "2 x cores to be safe" (or Pool() inside each of several
services on one box) for pure-Python CPU-bound work. Every worker is runnable all the time,
so they time-share the cores: each gets ~cores/N of a CPU, throughput does not improve,
latency of every task grows, and the box's load average sits at N.

Pool(--workers N, default 2 x os CPU count), fork. `pool.map(render_tile, range(N))`: every
worker spins forever in small chunks.

What pooltui should show:
* root: role pool parent, MainThread waiting in Pool.map; pool handler threads.
* N workers: running render_tile -> spin_chunk (wait kind none/running), each at roughly
  cpu_count / N of one CPU.
* Diagnosis: oversubscription (warning): busy workers N > cpu_count. No deadlock, no lock.

Truth: worker_pids, cpu_count (multiprocessing.cpu_count()), usable_cpus (sched_getaffinity
where available, else cpu_count).
"""
from __future__ import print_function

import multiprocessing
import os

import _common

START_GATE = None


def init_worker(gate):
    global START_GATE
    START_GATE = gate


def render_tile(tile):
    START_GATE.enter()
    while True:
        _common.spin_chunk()


def main(demo, workers):
    ctx = _common.get_context("fork")
    gate = _common.StartGate(ctx, _common.Channel())
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(gate,))

    def verify():
        busy = gate.open(workers)
        demo.wait_main_blocked()
        cpus = multiprocessing.cpu_count()
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
        demo.ready({"worker_pids": _common.pool_pids(pool), "busy_pids": busy,
                    "cpu_count": cpus, "usable_cpus": usable})

    demo.setup_thread(verify)
    pool.map(render_tile, range(workers), chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("oversubscribed", __doc__, workers=2 * multiprocessing.cpu_count())
    demo = _common.Demo("oversubscribed", args)
    demo.run(main, demo, args.workers)
