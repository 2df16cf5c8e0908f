"""killed_worker -- a pool worker is SIGKILLed mid-task; Pool replaces it and map() never returns.

Real-world incident: the OOM killer (or an operator's `kill -9`) takes out one worker of a
multiprocessing.Pool while it runs a task. The Pool quietly forks a replacement, so `ps`
looks healthy, but the task that was running is lost: its result never arrives and the
parent's `pool.map()` waits forever. (concurrent.futures would raise BrokenProcessPool;
multiprocessing.Pool does not.)

Pool(--workers N, default 4), fork. The main thread calls
`pool.map(fetch_report, range(N), chunksize=1)`; every task blocks (time.sleep, standing for a
slow upstream call). Once all N tasks have reported that they started, a helper thread of the
root SIGKILLs the worker running task 0, waits until the Pool has reaped it and forked a
replacement (new pid in pool._pool), then signals ready.

What pooltui should show:
* root: role pool parent; MainThread waiting in Pool.map -> ApplyResult.get (wait kind
  condition/event) -- forever; pool handler threads present.
* N-1 original workers: in fetch_report (time.sleep), wait kind sleep.
* the replacement worker (truth.replacement_pid): idle, waiting for a task (multiprocessing
  pool worker -> get(): pipe read or the inqueue's lock); never gets the lost task.
* killed pid: gone (event: process exited by SIGKILL if it was seen alive in an earlier sample;
  worker replaced).
* Diagnosis: lost task / hung pool after a worker died (error): parent still waits in map(),
  a worker vanished, fewer tasks running than the map is waiting for.

Truth: killed_pid, killed_task, replacement_pid, worker_pids (current), original_worker_pids,
busy_pids (still running their task).
"""
from __future__ import print_function

import os
import signal
import time

import _common

CHANNEL = None
UPSTREAM_LATENCY = 3600.0


def init_worker(channel):
    global CHANNEL
    CHANNEL = channel


def fetch_report(task):
    CHANNEL.send(event="started", task=task)
    time.sleep(UPSTREAM_LATENCY)      # a slow upstream call
    return task


def main(demo, workers):
    ctx = _common.get_context("fork")
    channel = _common.Channel()
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(channel,))
    original = _common.pool_pids(pool)

    def kill_one_and_verify():
        started = channel.collect(workers, event="started")
        victim = [m for m in started if m["task"] == 0][0]["pid"]
        for msg in started:
            _common.wait_blocked(msg["pid"], msg["pid"], syscalls=_common.SLEEP_SYSCALLS,
                                 what="worker in its task")
        demo.wait_main_blocked()
        os.kill(victim, signal.SIGKILL)
        _common.wait_until(lambda: victim not in _common.pool_pids(pool) and
                           len(_common.pool_pids(pool)) == workers,
                           "the pool to replace worker %d" % victim)
        _common.wait_gone(victim)
        current = _common.pool_pids(pool)
        replacement = [pid for pid in current if pid not in original][0]
        _common.wait_idle(replacement, what="replacement worker")
        demo.ready({
            "killed_pid": victim,
            "killed_task": 0,
            "replacement_pid": replacement,
            "worker_pids": current,
            "original_worker_pids": original,
            "busy_pids": sorted(m["pid"] for m in started if m["pid"] != victim),
        })

    demo.setup_thread(kill_one_and_verify)
    pool.map(fetch_report, range(workers), chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("killed_worker", __doc__, workers=4)
    demo = _common.Demo("killed_worker", args)
    demo.run(main, demo, args.workers)
