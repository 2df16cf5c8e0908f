"""shared_wait -- processes wait, without a timeout, on a multiprocessing Event, Condition,
Semaphore or full Queue that only a process waiting on them in turn would set, notify, release
or drain.

Real-world incidents: a worker waits for a "go" Event its parent sets only after join()ing
it; pool tasks wait on a Condition (a Semaphore(0)) the parent notifies (releases) after
map() returns; a child puts more than a Queue(1) holds while its parent join()s it before
get(). No lock is held anywhere: the semaphore under each primitive lives in a /dev/shm
file, and only the processes that map it can post it -- here every one of them waits on the
waiter.

The scenario runs in a "job" process (a child of the demo), so the demo's own threads do not
map the primitive.

--shape event (default): the job's child waits in Event.wait(); the job join()s it, then sets.
--shape condition: two pool workers wait in Condition.wait(); the job in map(), then notifies.
--shape semaphore: two pool workers wait in Semaphore(0).acquire(); the job in map(), then releases.
--shape queue_put: the job's child waits in put() on a full Queue(1); the job join()s it, then gets.
--shape manager_event: the job's child waits on a Manager().Event() (the Manager's server thread
  runs the wait); the job join()s it, then sets: a guess (a process outside the tree with the
  Manager's address and authkey could set it), so a warning.
--healthy: the twin that must draw no verdict: a thread of the job sets (notifies, releases,
  drains) every 0.2 s, asleep in between; the waiters wait again, forever.

What pooltui should show:
* the waiters waiting on the primitive, the job's main thread in join() / map();
* Diagnosis deadlock_cycle (error, inferred): the job's main thread and a waiter, each waiting
  on the other (a join or pool results; a set, notify, put or release from another process);
* --healthy: no warning, no error.

Truth: shape, healthy, job_pid, waiter_pids.
"""
from __future__ import print_function

import os
import sys
import signal
import threading
import time

import _common

PRIMITIVE = []  # the job's Event / Condition / Semaphore / Queue, for the pool's workers (fork)


def _forever(step):
    while True:
        step()


def event_waiter(ev):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _forever(lambda: (ev.wait(), ev.clear()))


def condition_work(_):
    cond = PRIMITIVE[0]

    def wait():
        with cond:
            cond.wait()
    _forever(wait)


def semaphore_work(_):
    _forever(PRIMITIVE[0].acquire)


def putter(q):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _forever(lambda: q.put(b"x"))


def _post(shape, primitive):
    """What the healthy twin's thread does every 0.2 s."""
    if shape in ("event", "manager_event"):
        return primitive.set
    if shape == "condition":
        def notify():
            with primitive:
                primitive.notify_all()
        return notify
    if shape == "semaphore":
        return lambda: (primitive.release(), primitive.release())
    return primitive.get


def _poster(step):
    while True:
        time.sleep(0.2)
        step()


def job(shape, healthy, report_w):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ctx = _common.get_context("fork")
    if shape == "manager_event":
        manager = ctx.Manager()
        primitive = manager.Event()
        PRIMITIVE.append(manager)  # kept alive: its server process serves the Event
    else:
        primitive = {"event": ctx.Event, "condition": ctx.Condition, "semaphore": lambda: ctx.Semaphore(0),
                     "queue_put": lambda: ctx.Queue(1)}[shape]()
    PRIMITIVE.append(primitive)
    if shape in ("event", "queue_put", "manager_event"):
        child = ctx.Process(target=putter if shape == "queue_put" else event_waiter, args=(primitive,), name="waiter")
        child.start()
        waiters, wait = [child.pid], child.join
    else:
        pool = ctx.Pool(2)
        waiters = [p.pid for p in pool._pool]
        result = pool.map_async(condition_work if shape == "condition" else semaphore_work, range(2), chunksize=1)
        wait = result.get
    if healthy:
        t = threading.Thread(target=_poster, args=(_post(shape, primitive),), name="poster")
        t.daemon = True
        t.start()
    os.write(report_w, ("%s\n" % " ".join(str(p) for p in waiters)).encode())
    wait()


def _asleep(pid, at_least):
    """Every thread of ``pid`` (``at_least`` of them) asleep in a system call."""
    try:
        tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        return False
    calls = [_common.read_syscall(pid, tid) for tid in tids]
    return len(tids) >= at_least and all(c is not None and c[0] != "running" for c in calls)


def main(demo, shape, healthy):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    proc = ctx.Process(target=job, args=(shape, healthy, w), name="job")
    proc.start()

    def verify():
        waiters = [int(p) for p in _common.read_line(r, "the job exited before it started its waiters").split()]
        for pid in waiters:
            if healthy:
                _common.wait_until(lambda: _common.read_syscall(pid, pid) is not None, "a waiter to wait")
            else:
                # a Manager's Event: the waiter sits in recv() for the server's answer
                calls = ("read", "recvfrom", "recvmsg", "poll") if shape == "manager_event" else ("futex",)
                _common.wait_blocked(pid, pid, syscalls=calls, what="a waiter")
        if not healthy:
            _common.wait_blocked(proc.pid, proc.pid, syscalls=("futex", "wait4"), what="the job's main thread")
        if shape == "manager_event" and not healthy:
            # the waiter's read may still be the connection's handshake: the Manager's server
            # serves the Event.wait only once its thread for that connection sleeps in it
            for server in [c for c in _common.children(proc.pid) if c not in waiters]:
                threads = 2 if sys.version_info[0] == 2 else 3  # 2.7 accepts in its main thread
                _common.wait_until(lambda: _asleep(server, threads), "the Manager's server to wait on the Event")
        demo.ready({"shape": shape, "healthy": healthy, "job_pid": proc.pid, "waiter_pids": waiters})

    demo.setup_thread(verify)
    proc.join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", choices=("event", "condition", "semaphore", "queue_put", "manager_event"), default="event")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("shared_wait", __doc__, extra=extra)
    demo = _common.Demo("shared_wait", args)
    demo.run(main, demo, args.shape, args.healthy)
