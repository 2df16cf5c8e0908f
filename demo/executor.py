"""executor -- a concurrent.futures.ProcessPoolExecutor on forkserver (or spawn), busy. Python 3.8+.

Real-world picture: the modern way to run a process pool -- ProcessPoolExecutor with the
forkserver start method (the default on Linux from 3.14). The process tree differs from a
fork Pool: the root runs the executor's manager ("queue management") thread and a queue
feeder thread; workers are children of the forkserver process, not of the root; a
resource_tracker process cleans up named semaphores. Nothing is wrong: this scenario teaches
the tool the shape (roles) of an executor tree.

ProcessPoolExecutor(max_workers=--workers N, default 4, mp_context=--method forkserver|spawn|fork).
N tasks are submitted (even ones crunch numbers forever, odd ones wait on a slow upstream via
time.sleep), plus 2 more that stay pending in the queue; MainThread waits in
concurrent.futures.wait().

What pooltui should show:
* root: role executor parent; MainThread in concurrent.futures.wait (wait kind event/condition);
  the executor manager thread (3.8: _queue_management_worker, 3.9+: _ExecutorManagerThread)
  and QueueFeederThread.
* forkserver (forkserver method): role forkserver (`multiprocessing.forkserver import main`),
  parent of the workers; resource_tracker: role resource tracker (child of the root).
* workers: role executor worker (_process_worker); crunch_numbers -> spin_chunk running, or
  wait_for_upstream in time.sleep (wait kind sleep).
* Diagnoses: none of severity error.

Truth: method, worker_pids, running {pid: "crunch"|"sleep"}, pending_tasks, forkserver_pid
(forkserver only), resource_tracker_pid (or null).
"""
from __future__ import print_function

import os
import sys
import time

import _common

RESULTS = None


def init_worker(results):
    global RESULTS
    RESULTS = results
    _common.child_setup()          # die with our parent (the forkserver, or the root for spawn)
    forkserver = getattr(sys.modules.get("multiprocessing.forkserver"), "_forkserver", None)
    alive_fd = getattr(forkserver, "_forkserver_alive_fd", None)
    if alive_fd is not None:
        # A forkserver exits when every holder of its "alive" pipe is gone, and its workers
        # inherit the write end -- so after a SIGKILLed root, forkserver and workers would keep
        # each other alive for good. Let the root alone keep the forkserver alive.
        os.close(alive_fd)


def crunch_numbers(task):
    RESULTS.put(("started", os.getpid(), task, "crunch"))
    while True:
        _common.spin_chunk()


def wait_for_upstream(task):
    RESULTS.put(("started", os.getpid(), task, "sleep"))
    time.sleep(3600)


def _get(queue, timeout):
    if not queue._reader.poll(timeout):
        raise _common.StateNotReached("executor workers did not start within %ss" % timeout)
    return queue.get()


def main(demo, workers, method):
    import concurrent.futures

    ctx = _common.get_context(method)
    results = ctx.SimpleQueue()
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=init_worker, initargs=(results,))
    futures = [executor.submit(crunch_numbers if i % 2 == 0 else wait_for_upstream, i)
               for i in range(workers)]
    pending = [executor.submit(wait_for_upstream, workers + i) for i in range(2)]

    def verify():
        deadline = time.time() + _common.STATE_TIMEOUT
        started = [_get(results, max(0.0, deadline - time.time())) for _ in range(workers)]
        running = dict((str(pid), kind) for _, pid, _, kind in started)
        for _, pid, _, kind in started:
            if kind == "sleep":
                _common.wait_blocked(pid, pid, syscalls=_common.SLEEP_SYSCALLS,
                                     what="executor worker")
        demo.wait_main_blocked()
        forkserver = sys.modules.get("multiprocessing.forkserver")
        tracker = sys.modules.get("multiprocessing.resource_tracker")
        demo.ready({
            "method": method,
            "worker_pids": sorted(executor._processes),
            "running": running,
            "pending_tasks": len(pending),
            "forkserver_pid": getattr(getattr(forkserver, "_forkserver", None),
                                      "_forkserver_pid", None) if method == "forkserver" else None,
            "resource_tracker_pid": getattr(getattr(tracker, "_resource_tracker", None),
                                            "_pid", None),
        })

    demo.setup_thread(verify)
    concurrent.futures.wait(futures + pending)


def _options(parser):
    parser.add_argument("--method", choices=("forkserver", "spawn", "fork"),
                        default="forkserver", help="multiprocessing start method")


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        sys.exit("demo/executor.py needs Python 3.8+ (concurrent.futures.ProcessPoolExecutor "
                 "with mp_context/initializer); this is Python %s" % sys.version.split()[0])
    args = _common.parse_args("executor", __doc__, workers=4, extra=_options)
    demo = _common.Demo("executor", args, start_method=args.method)
    demo.run(main, demo, args.workers, args.method)
