"""crash_loop -- a Pool whose initializer raises: workers die at start and are respawned forever.

Real-world incident: the pool's initializer opens a database connection (or imports a
module) that fails. Each worker dies with exit code 1 right after it starts; the Pool's
worker handler replaces it within 0.1 s; map() never returns and the logs fill with the
same traceback. Nothing is "stuck" -- processes come and go all the time.

What pooltui should show:
* root: pool parent, MainThread waiting for pool results (map).
* workers: young, replaced continuously; exits with exit code 1.
* Diagnosis crash_loop (error): the exits, the parent's wait, the fix.

Truth: parent_pid, deaths_seen (worker exits the root saw before ready).
"""
from __future__ import print_function

import os
import sys

import _common


def init_worker():
    sys.stderr = open(os.devnull, "w")   # keep the demo's stderr readable: the traceback repeats forever
    raise RuntimeError("cannot connect to the database")


def work(task):
    return task


def main(demo, workers):
    ctx = _common.get_context("fork")
    pool = ctx.Pool(workers, initializer=init_worker)
    seen = set(_common.pool_pids(pool))
    first = set(seen)

    def respawned():
        seen.update(_common.pool_pids(pool))
        return len(seen - first) >= 3

    def verify():
        _common.wait_until(respawned, "workers to be respawned")
        demo.wait_main_blocked()
        demo.ready({"parent_pid": demo.pid})

    demo.setup_thread(verify)
    # chunksize given: without it 3.8's map() divides by len(pool._pool), which is 0 at the
    # instant every worker has just died (ZeroDivisionError in the demo, not a hang)
    pool.map(work, range(workers), chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("crash_loop", __doc__, workers=2)
    demo = _common.Demo("crash_loop", args)
    demo.run(main, demo, args.workers)
