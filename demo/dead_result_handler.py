"""dead_result_handler -- a Pool whose result handler thread died: map() never returns.

Real-world incident (CPython gh-103061): an `apply_async(..., callback=...)` whose callback
raises kills the Pool's result handler thread (the exception ends its loop). Every worker is
alive and idle, the tasks ran, their results sit in the pipe -- but the only thread that
turns them into a ready result is gone: the next `pool.map()` waits forever.

What pooltui should show:
* root: pool parent; MainThread waits for pool results (map), no result handler thread
  among its threads (worker handler and task handler still there); the workers idle.
* Diagnosis no_waker (error): nobody can end this wait -- only the pool's result handler
  delivers results, and it is gone; not "a worker died" (no worker died).

Truth: parent_pid, worker_pids.
"""
from __future__ import print_function

import _common


def work(task):
    return task


def failing_callback(result):
    raise ZeroDivisionError("a callback that raises ends the pool's result handler thread")


def main(demo, workers):
    ctx = _common.get_context("fork")
    pool = ctx.Pool(workers)
    pool.apply_async(work, (0,), callback=failing_callback)
    handler = pool._result_handler
    _common.wait_until(lambda: not handler.is_alive(), "the result handler to die")

    def verify():
        demo.wait_main_blocked()
        demo.ready({"parent_pid": demo.pid, "worker_pids": _common.pool_pids(pool)})

    demo.setup_thread(verify)
    pool.map(work, range(workers))


if __name__ == "__main__":
    args = _common.parse_args("dead_result_handler", __doc__, workers=2)
    demo = _common.Demo("dead_result_handler", args)
    demo.run(main, demo, args.workers)
