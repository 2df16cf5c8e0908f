"""healthy -- a busy, healthy pool: the baseline that must produce no error diagnosis.

Real-world picture: a Pool doing CPU-bound work with spare capacity. Half of the workers
(N // 2, at least 1) crunch numbers in a loop of small chunks that keeps going; the others
sit idle waiting for the next task; the parent waits for the results in map_async().get().
Nothing is wrong -- this is what "busy" looks like, so a tool must not cry wolf on it.

Pool(--workers N, default 4), fork. `pool.map_async(crunch, range(N // 2), chunksize=1).get()`.

What pooltui should show:
* root: role pool parent; MainThread waiting in ApplyResult.get (wait kind condition/event);
  the pool's worker handler, task handler and result handler threads (idle).
* busy workers (truth.busy_pids): running crunch -> spin_chunk, wait kind none/running, CPU
  time growing between samples, stacks change.
* idle workers (truth.idle_pids): pool worker waiting for a task (pipe read in
  Connection.recv_bytes, or the inqueue's read lock) -- role worker, state idle.
* Diagnoses: none of severity error (no deadlock, no orphaned lock, no lost task, no stuck
  thread, no oversubscription as long as busy workers <= CPUs).

Truth: worker_pids, busy_pids, idle_pids, tasks.
"""
from __future__ import print_function

import _common

START_GATE = None


def init_worker(gate):
    global START_GATE
    START_GATE = gate


def crunch(task):
    START_GATE.enter()
    total = 0
    while True:                       # keeps going, one small chunk at a time
        total += _common.spin_chunk()


def main(demo, workers):
    ctx = _common.get_context("fork")
    gate = _common.StartGate(ctx, _common.Channel())
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(gate,))
    tasks = max(1, workers // 2)

    def verify():
        busy = gate.open(tasks)
        all_pids = _common.pool_pids(pool)
        idle = [pid for pid in all_pids if pid not in busy]
        for pid in idle:
            _common.wait_idle(pid)
        demo.wait_main_blocked()
        demo.ready({"worker_pids": all_pids, "busy_pids": busy, "idle_pids": idle,
                    "tasks": tasks})

    demo.setup_thread(verify)
    pool.map_async(crunch, range(tasks), chunksize=1).get()


if __name__ == "__main__":
    args = _common.parse_args("healthy", __doc__, workers=4)
    demo = _common.Demo("healthy", args)
    demo.run(main, demo, args.workers)
