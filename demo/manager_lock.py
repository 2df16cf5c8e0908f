"""manager_lock -- a Manager().Lock() acquired through its proxy by a task that never releases it.

Real-world incident: pool tasks serialise writes to a report through a lock from a
multiprocessing Manager (the usual advice when a plain multiprocessing.Lock cannot be passed
to pool tasks). One task takes it with `REPORT_LOCK.acquire()` and returns on an error path
before its `release()`. The Manager's server holds the lock on that client's behalf for
ever; every later task blocks in `with REPORT_LOCK:` -- inside a proxy call that looks like a
pipe read, and the Manager's server thread for each waiter looks like it is idle.

Manager (--method fork (default) | spawn | forkserver; 2.7: fork only) + Pool(--workers N,
default 3). `pool.map(write_report, range(N))`, one task per worker: task 0 acquires REPORT_LOCK and returns
without releasing it (its worker is then idle); the other tasks, once it did, block in
`with REPORT_LOCK:`.

What pooltui should show:
* manager server (truth.manager_pid): role manager server. One server thread per waiting
  client, named after that client (the Manager names each connection's thread after the
  client process, e.g. "ForkPoolWorker-2"), is a waiter, not idle: it runs the client's
  acquire() on the Manager's Lock and waits on it.
* the waiting workers (truth.waiters): "waits on the Manager's Lock (pid M)" at the
  `with REPORT_LOCK:` line of write_report -- not "waits to read from a pipe".
* the holder: the client whose connection last acquired that lock: the worker of task 0
  (truth.holder), idle -- its task ended with the lock held.
* Diagnosis: error -- the Manager's Lock can never be released: its holder's task ended.

--hold with: task 0 holds the lock inside `with REPORT_LOCK:` and hangs there (a sleep). Then
the holder is that worker's main thread, with the line where it took the lock (the `with`), and
the verdict is contention (warning), not an error: its holder is alive and may release it.

--hold killed: as --hold with, then the demo SIGKILLs the holder's worker (the OOM killer, an
operator); the pool replaces it, the Manager's thread for its connection ends, the lock stays
taken. Every client still connected waits on it: error, it can never be released (the one
that took it is gone); no holder named.

Truth: method, hold, manager_pid, lock_id (the proxy's server object id), holder {pid, name},
waiters [{pid, name}], server_tids (the manager's threads blocked on the lock), worker_pids, wait_site, acquire_site, with_site.
"""
from __future__ import print_function

import os
import signal
import time

import _common

HANG_TIME = 3600.0

REPORT_LOCK = None
HOLD = "acquire"
GATE = None
GO = None
CHANNEL = None


def init_worker(lock, gate, go, channel, hold="acquire"):
    global REPORT_LOCK, GATE, GO, CHANNEL, HOLD
    HOLD = hold
    _common.child_setup()
    REPORT_LOCK, GATE, GO, CHANNEL = lock, gate, go, channel


def _name():
    import multiprocessing
    return multiprocessing.current_process().name


def write_report(task):
    CHANNEL.send(event="started")
    GATE.acquire()                  # one task per worker: all are running before any goes on
    if task == 0 and HOLD in ("with", "killed"):
        with REPORT_LOCK:           # held
            CHANNEL.send(event="acquired", name=_name())
            time.sleep(HANG_TIME)   # a slow write, the lock held
    if task == 0:
        REPORT_LOCK.acquire()
        CHANNEL.send(event="acquired", name=_name())
        return task                 # the error path that forgets REPORT_LOCK.release()
    GO.wait()
    CHANNEL.send(event="entering", name=_name())
    with REPORT_LOCK:
        pass
    return task


def main(demo, workers, method, hold):
    ctx = _common.get_context(method)
    manager = ctx.Manager()
    lock, gate, go = manager.Lock(), ctx.Semaphore(0), ctx.Event()
    channel = _common.Channel() if method == "fork" else _common.QueueChannel(ctx)
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(lock, gate, go, channel, hold))
    manager_pid = manager._process.pid

    def verify():
        channel.collect(workers, event="started")
        for _ in range(workers):
            gate.release()
        holder = channel.collect(1, event="acquired")[0]
        if hold == "acquire":
            _common.wait_idle(holder["pid"], what="the holder's worker, its task done")
        else:
            _common.wait_blocked(holder["pid"], holder["pid"], syscalls=_common.SLEEP_SYSCALLS, what="the holder, inside its with")
        if hold == "killed":        # the OOM killer, or an operator: the lock stays taken in the Manager
            os.kill(holder["pid"], signal.SIGKILL)
            _common.wait_until(lambda: holder["pid"] not in _common.pool_pids(pool) and len(_common.pool_pids(pool)) == workers,
                               "the pool to replace the killed holder")
            _common.wait_until(lambda: not _server_threads(manager_pid, blocked=False), "the killed holder's server thread to end")
        go.set()
        waiters = channel.collect(workers - 1, event="entering")
        for m in waiters:           # in the proxy call: reading the Manager's answer
            _common.wait_blocked(m["pid"], m["pid"], syscalls=("read", "poll", "ppoll"), what="waiting client")
        # each waiter's server thread (named after the client) blocks in acquire() on the lock
        _common.wait_until(lambda: len(_server_threads(manager_pid)) == len(waiters),
                           "the manager's server threads to block on the lock")
        demo.wait_main_blocked()
        demo.ready({
            "method": method,
            "hold": hold,
            "manager_pid": manager_pid,
            "lock_id": lock._id,
            "holder": {"pid": holder["pid"], "name": holder["name"]},
            "waiters": [{"pid": m["pid"], "name": m["name"]}
                        for m in sorted(waiters, key=lambda m: m["pid"])],
            "server_tids": _server_threads(manager_pid),
            "worker_pids": _common.pool_pids(pool),
            "wait_site": _common.site(write_report, "with REPORT_LOCK:\n"),  # not the holder's `# held` one
            "acquire_site": _common.site(write_report, "REPORT_LOCK.acquire()"),
            "with_site": _common.site(write_report, "with REPORT_LOCK:           # held"),
        })

    demo.setup_thread(verify)
    pool.map(write_report, range(workers), chunksize=1)


def _server_threads(pid, blocked=True):
    """Tids of the manager's threads asleep in futex() (blocked=False: the others), but its
    main thread and its accepter (3.x: the first thread it starts, briefly in futex() while it
    starts a connection's thread, the main thread waiting on an Event; 2.7: the main thread
    accepts): the server threads running a waiting client's acquire() (the others serve an
    idle client)."""
    tids = sorted(int(tid) for tid in os.listdir("/proc/%d/task" % pid) if int(tid) != pid)
    main = _common.read_syscall(pid, pid)
    if not (main and main[0] == 43):  # accept()
        tids = tids[1:]
    out = []
    for tid in tids:
        got = _common.read_syscall(pid, tid)
        if got and (got[0] == 202) == blocked:
            out.append(tid)
    return out


def _options(parser):
    parser.add_argument("--method", choices=("fork", "spawn", "forkserver"), default="fork",
                        help="multiprocessing start method (2.7: fork only)")
    parser.add_argument("--hold", choices=("acquire", "with", "killed"), default="acquire",
                        help="how task 0 holds the lock: acquire() and return (default), inside"
                             " `with REPORT_LOCK:` while it hangs, or inside it when its worker is"
                             " SIGKILLed (the Manager keeps the lock taken)")


if __name__ == "__main__":
    args = _common.parse_args("manager_lock", __doc__, workers=3, extra=_options)
    demo = _common.Demo("manager_lock", args, start_method=args.method)
    demo.run(main, demo, args.workers, args.method, args.hold)
