"""condition -- threads wait on a Condition and a Queue that nobody will ever signal.

Real-world incident: the producer thread died early (an exception swallowed at start-up), so
the consumers wait for work forever: job waiters sit in `Condition.wait()` without a timeout,
and the result consumer in `Queue.get()`. There is no lock to blame -- nobody holds anything;
the missing party is the notifier -- so a tool must not invent a holder or a deadlock here.

Threads "job-waiter-1", "job-waiter-2" (--workers N of them, default 2) run
JobBoard.wait_for_job: `with self.jobs_ready:` / `while not self.jobs: self.jobs_ready.wait()`.
Thread "result-consumer" runs JobBoard.consume_result: `self.results.get()` (2.7: Queue.Queue).

What pooltui should show (one process, no pool):
* job waiters: wait kind condition, frames Condition.wait (threading.py) over
  JobBoard.wait_for_job at the `self.jobs_ready.wait()` line; the Condition's RLock is NOT held
  (wait released it); the per-wait `waiter` lock is not "owned" by anyone.
* result-consumer: wait kind queue get, Condition.wait over Queue.get over
  JobBoard.consume_result.
* MainThread: wait kind join.
* Diagnosis: stuck threads (same stack, no CPU across samples) at most a warning; NO deadlock
  cycle, no lock holder.

Truth: threads {name: {name, ident, tid, waits_on, kind}} (kind "condition" | "queue"),
wait_sites {"condition": site, "queue": site}.
"""
from __future__ import print_function

import threading

try:
    import queue
except ImportError:      # 2.7
    import Queue as queue

import _common


def _waiter_locks(condition):
    """The per-wait locks of threads currently inside condition.wait()."""
    return list(getattr(condition, "_waiters", None) or
                getattr(condition, "_Condition__waiters", []))


class JobBoard(object):
    def __init__(self):
        self.jobs_ready = threading.Condition()
        self.jobs = []
        self.results = queue.Queue()
        self.threads = {}

    def wait_for_job(self):
        _common.register_thread(self.threads)
        with self.jobs_ready:
            while not self.jobs:
                self.jobs_ready.wait()
            return self.jobs.pop()

    def consume_result(self):
        _common.register_thread(self.threads)
        return self.results.get()


def main(demo, waiters):
    board = JobBoard()
    names = ["job-waiter-%d" % (i + 1) for i in range(waiters)]
    threads = [threading.Thread(target=board.wait_for_job, name=name) for name in names]
    threads.append(threading.Thread(target=board.consume_result, name="result-consumer"))
    for thread in threads:
        thread.daemon = True
        thread.start()

    def verify():
        cond, not_empty = board.jobs_ready, board.results.not_empty
        _common.wait_until(lambda: len(_waiter_locks(cond)) == waiters and
                           len(_waiter_locks(not_empty)) == 1, "all threads to wait")
        truth = {}
        for name in names + ["result-consumer"]:
            is_queue = name == "result-consumer"
            addrs = [_common.futex_address(lock)
                     for lock in _waiter_locks(not_empty if is_queue else cond)]
            info = board.threads[name]
            _common.wait_blocked(demo.pid, info["tid"], addrs, what=name)
            truth[name] = dict(info, kind="queue" if is_queue else "condition",
                               waits_on="JobBoard.results" if is_queue else "JobBoard.jobs_ready")
        demo.wait_main_blocked()
        demo.ready({"threads": truth, "wait_sites": {
            "condition": _common.site(JobBoard.wait_for_job, "self.jobs_ready.wait()"),
            "queue": _common.site(JobBoard.consume_result, "self.results.get()")}})

    demo.setup_thread(verify)
    threads[0].join()


if __name__ == "__main__":
    args = _common.parse_args("condition", __doc__, workers=2)
    demo = _common.Demo("condition", args)
    demo.run(main, demo, args.workers)
