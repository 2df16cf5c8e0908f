"""stuck_notify -- in a worker process, every thread that could notify, set or fill what another
one waits on waits itself, on that one: nobody can end any of the waits.

No lock is held across a fork and no thread is missing: the threads are all there, alive,
and each stack alone looks ordinary ("waits for an Event", "waits on a queue", "joins a
thread"). Who could end each wait is the question: a process-private primitive (a
threading.Event, a queue.Queue, a Condition) can only be ended by a thread of its own
process, and every such thread here waits, without a timeout, on the first one.

--shape (each in a forked worker process, as a pool or service worker would run it):
* queue_event (default): the worker's dispatcher thread died on an exception before putting
  any job; its consumer thread waits in jobs.get(), and the main thread in done.wait() for
  the event the consumer sets when the jobs are done.
* cond_lock: a 'publisher' thread took STATE_LOCK (`with STATE_LOCK:`, a plain Lock) and
  waits, inside it, on the READY Condition (its own lock); the main thread, which would
  notify READY once it has updated the state, waits for STATE_LOCK.
* join: the main thread joins its 'flusher' thread, which waits on a Condition that the
  main thread notifies only after the join (a shutdown in the wrong order).
* nested_future (3.x): a ThreadPoolExecutor(1)'s task submits another task to the same
  executor and waits for its result, queued behind itself; the main thread waits for the
  outer task (--healthy: two workers, the inner task runs).

--healthy: the twin that must draw no verdict. queue_event/cond_lock/join: the same waits,
plus a thread that sleeps and would put/notify/set when it wakes (a periodic producer);
--shape pingpong (always healthy): two threads hand a turn back and forth through one
Condition, as fast as they can, while the main thread waits for them in join().

What pooltui should show: a deadlock_cycle (error) through the worker's threads, its
evidence saying each primitive and that only a thread of that pid could end it, with the
threads that could; with --healthy / pingpong: no warning and no error.

Truth: shape, healthy, child_pid, stuck ({name: tid} of the threads the cycle goes through).
"""
from __future__ import print_function

import json
import os
import signal
import threading
import time

import _common

try:
    import queue
except ImportError:  # 2.7
    import Queue as queue

JOBS = queue.Queue()
DONE = threading.Event()
STATE_LOCK = threading.Lock()
READY = threading.Condition()
FLUSH = threading.Condition()


def _report(fd, payload):
    os.write(fd, (json.dumps(payload) + "\n").encode())


def dispatcher():
    raise RuntimeError("the job source is gone")  # dies before it puts anything


def consumer():
    while True:
        JOBS.get()
        DONE.set()


def publisher(started):
    with STATE_LOCK:
        started.set()
        with READY:
            READY.wait()


def flusher():
    with FLUSH:
        FLUSH.wait()


def producer_later():
    time.sleep(3600)  # alive, in a timed wait: it would put, notify and set when it wakes
    JOBS.put(None)
    with READY:
        READY.notify_all()
    with FLUSH:
        FLUSH.notify_all()


def pingpong(me, other, turn):
    while True:
        with READY:
            while turn[0] != me:
                READY.wait()
            turn[0] = other
            READY.notify_all()


def _start(target, name, *args):
    t = threading.Thread(target=target, name=name, args=args)
    t.daemon = True
    t.start()
    return t


def child(shape, healthy, fd):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import sys
    sys.stderr = open(os.devnull, "w")  # the dispatcher's traceback is the story, not output
    tids = {"MainThread": _common.native_tid()}

    def register(name):
        tids[name] = _common.native_tid()

    if healthy or shape == "pingpong":
        _start(producer_later, "producer")
    if shape == "queue_event":
        _start(dispatcher, "dispatcher").join()
        _start(lambda: (register("consumer"), consumer()), "consumer")
        _common.wait_until(lambda: "consumer" in tids, "the consumer to start")
        _report(fd, tids)
        DONE.wait()
    elif shape == "cond_lock":
        started = threading.Event()
        _start(lambda: (register("publisher"), publisher(started)), "publisher")
        started.wait()
        _report(fd, tids)
        with STATE_LOCK:
            with READY:
                READY.notify_all()
    elif shape == "join":
        t = _start(lambda: (register("flusher"), flusher()), "flusher")
        _common.wait_until(lambda: "flusher" in tids, "the flusher to start")
        _report(fd, tids)
        t.join()
        with FLUSH:
            FLUSH.notify_all()
    elif shape == "nested_future":  # 3.x: concurrent.futures
        from concurrent.futures import ThreadPoolExecutor
        executor = ThreadPoolExecutor(1)

        def inner():
            return 1

        def outer():
            register("ThreadPoolExecutor-0_0")
            return executor.submit(inner).result()  # queued behind this very task: never runs

        if healthy:
            executor = ThreadPoolExecutor(2)  # a second worker runs the inner task
        future = executor.submit(outer)
        _common.wait_until(lambda: "ThreadPoolExecutor-0_0" in tids, "the outer task to start")
        _report(fd, tids)
        future.result()
        time.sleep(3600)  # healthy: done; it lives on for the captures
    else:  # pingpong: healthy by construction
        turn = ["ping"]
        a = _start(lambda: (register("ping"), pingpong("ping", "pong", turn)), "ping")
        _start(lambda: (register("pong"), pingpong("pong", "ping", turn)), "pong")
        _common.wait_until(lambda: "ping" in tids and "pong" in tids, "ping and pong to start")
        _report(fd, tids)
        a.join()


def main(demo, shape, healthy):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    proc = ctx.Process(target=child, args=(shape, healthy, w), name="worker")
    proc.start()
    os.close(w)

    def verify():
        line = _common.read_line(r, "the worker exited before it reported its threads")
        tids = json.loads(line.decode())
        stuck = {} if (healthy or shape == "pingpong") else tids
        for name, tid in stuck.items():
            _common.wait_blocked(proc.pid, tid, what="worker thread %r" % name)
        if shape == "pingpong":
            _common.wait_until(lambda: _common.read_syscall(proc.pid, tids["ping"]) is not None, "ping to run")
        demo.ready({"shape": shape, "healthy": healthy or shape == "pingpong", "child_pid": proc.pid, "stuck": stuck})

    demo.setup_thread(verify)
    proc.join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", choices=("queue_event", "cond_lock", "join", "nested_future", "pingpong"), default="queue_event")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("stuck_notify", __doc__, extra=extra)
    demo = _common.Demo("stuck_notify", args)
    demo.run(main, demo, args.shape, args.healthy)
