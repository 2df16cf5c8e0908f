"""healthy_corpus -- healthy pools of many kinds: pooltui must say nothing worse than info.

Not an incident: the false-positive corpus. `--kind` picks the pool:
  idle         Pool(N), no task; the root waits on a threading.Event for its shutdown signal
  busy         half the workers spin, the others idle (map_async().get())
  bursty       short tasks (a little CPU, a short sleep) streamed through imap_unordered
  contended    every worker takes one multiprocessing.Lock for short critical sections, in a loop
  hot_lock     (run with --workers 64) every worker takes one multiprocessing.Lock for a few
               microseconds, thousands of times a second in all: the lock changes hands while
               it is read, its semaphore often 0 with no process counting it yet
  timer_event  the root runs a threading.Timer (an Event.wait(timeout)), a thread polling an Event
               with a timeout, a multiprocessing.Condition notified every 0.2 s, and a full
               multiprocessing.Queue(2) drained slowly (its producer blocks in put())
  manager      workers update a Manager dict and wait on a Manager Event with a timeout
  manager_lock every worker takes one Manager().Lock() (`with` through its proxy) for 20 ms
               of sleep, in a loop: its holder is read from the Manager at another
               instant than its clients, often while it changes hands
  executor     ProcessPoolExecutor + ThreadPoolExecutor with a stream of short futures
  rpc          each worker asks a parent server thread over its own socketpair and waits in
               recv() for the answer (given after a short pause) while the parent's main thread
               waits for the pool's results: a request in flight is no deadlock
  rpc_stream   rpc, the answer 16 MiB and no pause: the server is mostly in sendall() while the
               worker drains it in recv() -- both ends in a system call on one connection
  waiters      root threads parked for good the ordinary way: Event.wait() with no timeout, a
               consumer in queue.get() on an empty queue.Queue, a Condition nobody notifies
               whose lock is free (its would-be notifier sleeps outside the `with`)
  c_tasks      every worker runs a task that is a C function (pool.map(time.sleep, ...)): no
               frame of the task's own, the worker's loop frame on its task call -- busy, not idle
  spawn        bursty, under the spawn start method
  forkserver   bursty, under the forkserver start method

What pooltui should show: roles for every process; no warning and no error, in one sample
or over many (busy_spin info on spinners is fine).

Truth: kind, worker_pids.
"""

from __future__ import print_function

import os
import sys
import threading
import time

import _common

LOCK = None
EVENT = None
SHARED = None


def init_worker(lock=None, event=None, shared=None, parent=None):
    global LOCK, EVENT, SHARED
    LOCK, EVENT, SHARED = lock, event, shared
    if parent is not None:
        _common.child_setup(parent)


def spin(task):
    while True:
        _common.spin_chunk()


def burst(task):
    _common.spin_chunk(2000)
    time.sleep(0.02)
    return task


def contend(task):
    while True:
        with LOCK:
            _common.spin_chunk(200)
        time.sleep(0.001)


def hot_contend(task):
    while True:
        with LOCK:
            pass
        _common.spin_chunk(50)


def manager_contend(task):
    while True:
        with LOCK:
            time.sleep(0.02)
        _common.spin_chunk(200)


def manager_work(task):
    n = 0
    while True:
        n += 1
        SHARED[os.getpid()] = n
        EVENT.wait(0.1)


def forever():
    """0, 1, 2, ... for imap: a stream of tasks that never ends."""
    n = 0
    while True:
        yield n
        n += 1


def stream(results):
    for _ in results:
        pass


def _timer_event(demo):
    """Threads in the root that wait with timeouts or are woken often."""
    ctx = _common.get_context("fork")
    timer = threading.Timer(3600, lambda: None)
    timer.daemon = True
    timer.start()
    stop = threading.Event()

    def poller():
        while not stop.wait(0.5):
            pass

    cond = ctx.Condition()

    def notifier():
        while True:
            time.sleep(0.2)
            with cond:
                cond.notify_all()

    def waiter():
        while True:
            with cond:
                cond.wait()

    queue = ctx.Queue(2)

    def producer():
        n = 0
        while True:
            queue.put(n)
            n += 1

    def consumer():
        while True:
            queue.get()
            time.sleep(0.3)

    for name, target in (("poller", poller), ("notifier", notifier), ("cond-waiter", waiter), ("producer", producer), ("consumer", consumer)):
        t = threading.Thread(target=target, name=name)
        t.daemon = True
        t.start()
    mp_event = ctx.Event()
    return ctx.Pool(2, initializer=init_worker, initargs=(None, mp_event)), mp_event


CONN = None


def init_rpc(pairs):
    global CONN
    import multiprocessing

    CONN = pairs[(multiprocessing.current_process()._identity or (0,))[0] % len(pairs)][1]


ANSWER = 2  # bytes of each answer (rpc_stream: 2 MiB)


def ask_parent(task):
    CONN.sendall(b"?")
    got = 0
    while got < ANSWER:
        got += len(CONN.recv(65536))
    return got


def _rpc(workers, size, pause):
    """A parent thread answers every worker's question (``size`` bytes) after ``pause`` s."""
    import select
    import socket

    pairs = [socket.socketpair() for _ in range(workers)]
    answer = b"k" * size

    def server():
        ends = [a for a, _ in pairs]
        while True:
            for a in select.select(ends, [], [])[0]:
                a.recv(16)
                time.sleep(pause)
                a.sendall(answer)

    t = threading.Thread(target=server, name="rpc-server")
    t.daemon = True
    t.start()
    return pairs


def _waiters():
    """Threads parked for good, the ordinary way."""
    try:
        import queue
    except ImportError:  # 2.7
        import Queue as queue
    event, items, cond = threading.Event(), queue.Queue(), threading.Condition()

    def consumer():
        while True:
            items.get()

    def cond_waiter():
        with cond:
            cond.wait()

    def notifier():
        while True:
            time.sleep(1)  # would notify, some day: sleeps outside the `with`

    for name, target in (("event-waiter", event.wait), ("consumer", consumer), ("cond-waiter", cond_waiter), ("notifier", notifier)):
        t = threading.Thread(target=target, name=name)
        t.daemon = True
        t.start()


def event_wait(task):
    while not EVENT.wait(0.3):
        pass


def main(demo, workers, kind):
    global ANSWER  # the workers fork after it is set
    method = kind if kind in ("spawn", "forkserver") else "fork"
    ctx = _common.get_context(method)
    parent = os.getpid() if method != "fork" else None
    keep = []
    if kind == "idle":
        pool = ctx.Pool(workers)
        run = threading.Event().wait
    elif kind == "busy":
        pool = ctx.Pool(workers)
        result = pool.map_async(spin, range(max(1, workers // 2)), chunksize=1)

        def run():
            result.get()
    elif kind in ("bursty", "spawn", "forkserver"):
        pool = ctx.Pool(workers, initializer=init_worker, initargs=(None, None, None, parent))

        def run():
            stream(pool.imap_unordered(burst, forever(), chunksize=1))
    elif kind == "contended":
        lock = ctx.Lock()
        pool = ctx.Pool(workers, initializer=init_worker, initargs=(lock,))
        result = pool.map_async(contend, range(workers), chunksize=1)

        def run():
            result.get()
    elif kind == "hot_lock":
        lock = ctx.Lock()
        pool = ctx.Pool(workers, initializer=init_worker, initargs=(lock,))
        result = pool.map_async(hot_contend, range(workers), chunksize=1)

        def run():
            result.get()
    elif kind == "timer_event":
        pool, mp_event = _timer_event(demo)
        result = pool.map_async(event_wait, range(2), chunksize=1)

        def run():
            result.get()
    elif kind in ("rpc", "rpc_stream"):
        ANSWER, pause = (16 << 20, 0) if kind == "rpc_stream" else (2, 0.05)
        pool = ctx.Pool(workers, initializer=init_rpc, initargs=(_rpc(workers, ANSWER, pause),))

        def run():
            stream(pool.imap_unordered(ask_parent, forever(), chunksize=1))
    elif kind == "c_tasks":
        pool = ctx.Pool(workers)
        result = pool.map_async(time.sleep, [3600] * workers, chunksize=1)

        def run():
            result.get()
    elif kind == "waiters":
        _waiters()
        pool = ctx.Pool(workers)
        run = threading.Event().wait
    elif kind == "manager":
        manager = ctx.Manager()
        keep.append(manager)
        shared, event = manager.dict(), manager.Event()
        pool = ctx.Pool(workers, initializer=init_worker, initargs=(None, event, shared))
        result = pool.map_async(manager_work, range(workers), chunksize=1)

        def run():
            result.get()
    elif kind == "manager_lock":
        manager = ctx.Manager()
        keep.append(manager)
        pool = ctx.Pool(workers, initializer=init_worker, initargs=(manager.Lock(),))
        result = pool.map_async(manager_contend, range(workers), chunksize=1)

        def run():
            result.get()
    elif kind == "executor":
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        procs = ProcessPoolExecutor(workers)
        threads = ThreadPoolExecutor(2)
        keep.extend((procs, threads))
        pool = None

        def run():
            while True:
                futures = [procs.submit(burst, i) for i in range(workers)] + [threads.submit(burst, i) for i in range(2)]
                for f in futures:
                    f.result()
    else:
        raise SystemExit("unknown kind %r" % kind)

    def verify():
        time.sleep(0)  # the work starts in the main thread below; workers exist once the pool does
        pids = _common.pool_pids(pool) if pool is not None else []
        if kind == "c_tasks":  # every worker in its task: asleep in C, no task left to hand out
            for pid in pids:
                _common.wait_blocked(pid, pid, syscalls=_common.SLEEP_SYSCALLS, what="worker %d in time.sleep" % pid)
        if kind == "executor":
            _common.wait_until(lambda: len(_common.children(demo.pid)) >= workers, "executor workers")
            pids = sorted(_common.children(demo.pid))
        demo.ready({"kind": kind, "worker_pids": pids})

    demo.setup_thread(verify)
    run()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--kind", default="busy", help="which healthy pool (see the header)")

    args = _common.parse_args("healthy_corpus", __doc__, workers=4, extra=extra)
    if _common.PY2 and args.kind in ("spawn", "forkserver", "executor"):
        sys.stderr.write("healthy_corpus: %s needs Python 3\n" % args.kind)
        sys.exit(2)
    demo = _common.Demo("healthy_corpus", args)
    demo.run(main, demo, args.workers, args.kind)
