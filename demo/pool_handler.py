"""pool_handler -- a Pool's results can never arrive: its result handler thread died.

Real-world incident: a task returns an object the parent cannot unpickle (here an exception
class whose __init__ takes two arguments but passes one to Exception.__init__: pickling keeps
only that one). The parent's result handler thread raises TypeError while unpickling it and
dies -- it catches only OSError/EOFError -- with a traceback on stderr nobody reads. Every
worker is alive and idle, nothing was lost by a worker, and `pool.map()` waits forever.

What pooltui should show (2.7, 3.8+):
* root: pool parent, MainThread waiting in Pool.map; a task handler and a worker handler, and
  no result handler thread.
* pool_hung (error) naming the dead result handler thread -- not a dead worker, not dmesg.
* --via spin (3.8+): each worker closes the file descriptors it inherited but its task pipes
  (daemon-style start-up code), its end of the pipe its parent watches for its exit among them:
  the parent's worker handler then finds every worker "exited" and none gone, and loops
  without sleeping, one CPU at 100 %, shown "idle" by py-spy (its select() returns at once).
  pooltui: busy_spin naming the worker handler thread of the root (it spins, and how much CPU).
* --via callback: the parent's main thread holds RESULTS_LOCK (a threading.Lock) around
  map_async(..., callback=record) and waits for the results inside it; the callback, which the
  pool's result handler thread runs, takes RESULTS_LOCK too. The workers are idle with their
  tasks done; the results stop at the blocked result handler, the only thread that delivers them.
  pooltui: deadlock_cycle (error) through the main thread and the result handler thread, the
  callback named -- not pool_hung, nothing about a dead worker.
* --healthy (the twin): the same pool and tasks returning plain values, the parent mapping
  them in a loop (--via callback: the callback takes RESULTS_LOCK, the parent takes it only
  between its waits): no warning, no error.

Truth: worker_pids, result_handler {ident} (recorded before it died; --via callback: {ident,
tid}), healthy.
"""
from __future__ import print_function

import sys
import threading

import _common


class RecordError(Exception):
    """Two arguments in, one to Exception: unpickling calls RecordError(message) -> TypeError."""

    def __init__(self, message, record):
        super(RecordError, self).__init__(message)
        self.record = record


def bad_result(n):
    return RecordError("record %d is malformed" % n, n)


def square(n):
    return n * n


def close_inherited_fds():
    """Pool initializer: close every inherited pipe but the pool's own task and result pipes."""
    import gc
    import os
    from multiprocessing.queues import SimpleQueue

    keep = set()
    for obj in gc.get_objects():
        if isinstance(obj, SimpleQueue):
            for conn in (obj._reader, obj._writer):
                if not conn.closed:  # the worker closed the ends it does not use
                    keep.add(conn.fileno())
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            pipe = os.readlink("/proc/self/fd/%d" % fd).startswith("pipe:")
        except OSError:
            continue
        if fd > 2 and pipe and fd not in keep:
            os.close(fd)


def spin(demo, workers):
    if sys.version_info < (3, 8):
        raise _common.StateNotReached("before 3.8 the worker handler polls every 0.1 s: it cannot spin")
    ctx = _common.get_context("fork")
    pool = ctx.Pool(workers, initializer=close_inherited_fds)
    pool.map(square, range(workers * 4))  # every worker has run its initializer
    handler = pool._worker_handler
    truth = {"worker_pids": [p.pid for p in pool._pool], "worker_handler": {"ident": handler.ident,
             "tid": getattr(handler, "native_id", None)}}

    def verify():
        # spinning, measured from inside: a second of CPU, and more than 6 % of the process's life
        _common.wait_until(lambda: _cpu_seconds(demo.pid, truth["worker_handler"]["tid"]) >= max(1.0, 0.06 * _age(demo.pid)),
                           "the worker handler to spend a second of CPU")
        demo.ready(truth)

    demo.setup_thread(verify)
    pool.map(square, range(8))
    threading.Event().wait()


RESULTS_LOCK = threading.Lock()
RESULTS = []
HANDLER_TID = []


def record(results):
    """A map_async callback: run by the parent's result handler thread."""
    if not HANDLER_TID:
        HANDLER_TID.append(_common.native_tid())
    with RESULTS_LOCK:
        RESULTS.append(results)


def callback(demo, workers, healthy):
    ctx = _common.get_context("fork")
    pool = ctx.Pool(workers)
    truth = {"worker_pids": [p.pid for p in pool._pool], "healthy": healthy}

    def verify():
        _common.wait_until(lambda: HANDLER_TID, "the result handler to run the callback")
        truth["result_handler"] = {"ident": pool._result_handler.ident, "tid": HANDLER_TID[0]}
        if not healthy:
            _common.wait_blocked(demo.pid, HANDLER_TID[0], what="the result handler in the callback")
            demo.wait_main_blocked()
        demo.ready(truth)

    demo.setup_thread(verify)
    if healthy:
        while True:
            pool.map_async(square, range(64), callback=record).wait()
            with RESULTS_LOCK:
                del RESULTS[:]
    with RESULTS_LOCK:
        pool.map_async(square, range(workers * 2), callback=record).wait()


def _age(pid):
    import os
    with open("/proc/%d/stat" % pid) as f:
        start = int(f.read().rpartition(")")[2].split()[19]) / float(os.sysconf("SC_CLK_TCK"))
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - start


def _cpu_seconds(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rpartition(")")[2].split()
    import os
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def main(demo, workers, healthy):
    ctx = _common.get_context("fork")
    pool = ctx.Pool(workers)
    handler = pool._result_handler
    truth = {"worker_pids": [p.pid for p in pool._pool], "result_handler": {"ident": handler.ident}, "healthy": healthy}

    def verify():
        if not healthy:
            handler.join(_common.STATE_TIMEOUT)  # it dies on the first result
            if handler.is_alive():
                raise _common.StateNotReached("the result handler did not die")
            demo.wait_main_blocked()
        demo.ready(truth)

    demo.setup_thread(verify)
    if healthy:
        while True:
            pool.map(square, range(64))
    else:
        sys.stderr = open("/dev/null", "w")  # the handler's traceback: nobody reads it (as in production)
        pool.map(bad_result, range(workers))


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin: plain results mapped in a loop")
        parser.add_argument("--via", choices=("dead", "spin", "callback"), default="dead")

    args = _common.parse_args("pool_handler", __doc__, workers=2, extra=extra)
    demo = _common.Demo("pool_handler", args)
    if args.via == "spin":
        demo.run(spin, demo, args.workers)
    elif args.via == "callback":
        demo.run(callback, demo, args.workers, args.healthy)
    else:
        demo.run(main, demo, args.workers, args.healthy)
