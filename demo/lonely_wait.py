"""lonely_wait -- a forked child waits on a threading primitive whose only notifier is a thread
of its parent: fork() copied the object, not the thread, so nobody in the child can end the wait.

Real-world incident: a service keeps a `threading.Event` "config loaded" (or a `queue.Queue` of
jobs, a `threading.Condition`) that a background thread of the main process sets (fills,
notifies). A worker process forked from it waits on its copy at start -- and waits forever:
the thread that would set it exists only in the parent.

--shape event (default) | queue | condition | semaphore: what the child's main thread waits on, with
  no timeout (semaphore: the acquire() of a threading.Semaphore(0) only the parent's thread releases);
--shape future (3.x): the parent's ThreadPoolExecutor(2) has started its threads; the child
  submits to its copy (which has no threads: the executor thinks it has two, starts none) and
  waits on the Future's result().
--healthy: the twin that must draw no verdict: the child starts its own notifier thread (it
  sleeps, then would set/fill/notify), or with --shape queue the child polls with
  get(timeout=0.5) in a loop, or with --shape future the child creates its own executor (after
  fork) whose thread runs the long task.

What pooltui should show:
* the child (pid truth.child_pid): one live thread, waiting on Event.wait / Queue.get /
  Condition.wait / Semaphore.acquire, without a timeout;
* Diagnosis no_waker (error): nobody can end this wait, naming the primitive and why (no other
  live thread in the child); 3.x with no handler but SIGINT's; 2.7 (no handler runs during an
  untimed lock wait).
* --healthy: no warning, no error.

Truth: shape, healthy, child_pid, parent_pid.
"""
from __future__ import print_function

import os
import signal
import threading
import time

import _common

try:
    import queue
except ImportError:  # 2.7
    import Queue as queue

EVENT = threading.Event()
JOBS = queue.Queue()
COND = threading.Condition()
SLOTS = threading.Semaphore(0)
NEVER = threading.Event()


def notifier():
    NEVER.wait()  # the parent's notifier: it would set EVENT, fill JOBS, notify COND -- in the parent only


def late_notifier():
    time.sleep(3600)  # the child's own notifier: alive, so the wait can end
    EVENT.set()


EXECUTOR = []


def long_task():
    time.sleep(3600)


def child(shape, healthy):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if shape == "future":
        if healthy:
            from concurrent.futures import ThreadPoolExecutor
            EXECUTOR[:] = [ThreadPoolExecutor(2)]
        EXECUTOR[0].submit(long_task).result()
        return
    if healthy and not (shape == "queue"):
        t = threading.Thread(target=late_notifier, name="late-notifier")
        t.daemon = True
        t.start()
    if shape == "event":
        EVENT.wait()
    elif shape == "semaphore":
        SLOTS.acquire()
    elif shape == "queue":
        if healthy:
            while True:
                try:
                    JOBS.get(timeout=0.5)
                except queue.Empty:
                    pass
        JOBS.get()
    else:
        with COND:
            COND.wait()


def main(demo, shape, healthy):
    ctx = _common.get_context("fork")
    if shape == "future":
        from concurrent.futures import ThreadPoolExecutor
        EXECUTOR.append(ThreadPoolExecutor(2))
        for f in [EXECUTOR[0].submit(time.sleep, 0) for _ in range(2)]:
            f.result()  # its two threads exist now, in the parent only
    t = threading.Thread(target=notifier, name="notifier")
    t.daemon = True
    t.start()
    proc = ctx.Process(target=child, args=(shape, healthy), name="lonely")
    proc.start()

    def verify():
        if healthy and shape == "queue":
            _common.wait_until(lambda: _common.read_syscall(proc.pid, proc.pid) is not None, "the child to poll")
        else:
            _common.wait_blocked(proc.pid, proc.pid, what="the child's main thread")
        demo.ready({"shape": shape, "healthy": healthy, "child_pid": proc.pid, "parent_pid": demo.pid})

    demo.setup_thread(verify)
    proc.join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", choices=("event", "queue", "condition", "semaphore", "future"), default="event")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("lonely_wait", __doc__, extra=extra)
    if _common.PY2 and args.shape == "future":
        import sys
        sys.stderr.write("lonely_wait: --shape future needs Python 3\n")
        sys.exit(2)
    demo = _common.Demo("lonely_wait", args)
    demo.run(main, demo, args.shape, args.healthy)
