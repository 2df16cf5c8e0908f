"""fork_queue_lock -- a QueueHandler's queue mutex (a plain Lock) held by a thread at fork(): the child hangs.

Real-world incident: a service logs from several threads through a
`logging.handlers.QueueHandler` (the logging cookbook's answer to slow handlers: a
`QueueListener` thread drains the queue). Its queue spools records to disk in `_put`, which
`queue.Queue` calls with its `mutex` held. The main thread forks a worker (os.fork, as
pre-fork servers and fork-start pools do) while a "request" thread is inside that `put()`.
The child inherits `queue.mutex` locked -- a plain `threading.Lock`, which records no owner
and which logging's fork handlers do not re-create -- and its first log call blocks forever:
the child has no other thread that could release it.

What pooltui should show (parent + one forked child):
* child MainThread: waits on SpoolQueue.mutex (Lock): no owner recorded, in Queue.put
  (reached from its first `log.info`).
* Diagnosis: orphaned lock (error, inferred) in the child: every live thread of the child
  waits on the lock, so nobody can release it; it was inherited locked across fork() (a
  frame of `spool` inside `with` of it was copied from the parent; the child's main thread
  has the ident of the parent's MainThread).
* parent: MainThread in os.waitpid; the listener thread idle on the queue.

Truth: parent_pid, child_pid, lock {name, kind, id, futex}, wait_site {...} (the child's
log call), writer (the parent thread that held the mutex at fork).
"""
from __future__ import print_function

import logging
import os
import threading
import warnings

import _common

try:
    import queue
except ImportError:                      # 2.7
    import Queue as queue

try:
    from logging.handlers import QueueHandler, QueueListener
except ImportError:                      # 2.7: the cookbook's QueueHandler, and a listener thread
    QueueHandler = QueueListener = None

warnings.simplefilter("ignore")          # 3.12+: DeprecationWarning for fork() with threads

IN_PUT, RESUME = threading.Event(), threading.Event()
THREADS = {}


class SpoolQueue(queue.Queue):
    """A queue that spools each record to disk inside put() (slow: the mutex is held)."""

    slow = True

    def _put(self, item):
        queue.Queue._put(self, item)
        if self.slow and threading.current_thread().name == "request":
            self.slow = False
            IN_PUT.set()
            RESUME.wait()                # the disk write; the parent forks meanwhile


RECORDS = SpoolQueue()
log = logging.getLogger("service")
log.setLevel(logging.INFO)
log.propagate = False


def install_handler():
    sink = logging.StreamHandler(open(os.devnull, "w"))
    if QueueHandler is not None:
        log.addHandler(QueueHandler(RECORDS))
        listener = QueueListener(RECORDS, sink)
        listener.start()
        return
    class Handler(logging.Handler):      # noqa: E306
        def createLock(self):            # as 3.8+ after fork: the handler's own lock is no issue
            self.lock = None

        def emit(self, record):
            RECORDS.put(record)

    def listen():
        while True:
            sink.handle(RECORDS.get())
    log.addHandler(Handler())
    t = threading.Thread(target=listen, name="log-listener")
    t.daemon = True
    t.start()


def handle_request():
    _common.register_thread(THREADS)
    log.info("request served")           # inside RECORDS.put(): holds RECORDS.mutex


def child_main(parent):
    _common.child_setup(parent)
    log.info("worker started")           # RECORDS.mutex: locked by a thread left in the parent


def main(demo):
    install_handler()
    writer = threading.Thread(target=handle_request, name="request")
    writer.daemon = True
    writer.start()
    if not IN_PUT.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the request thread never reached the spool write")
    child = os.fork()
    if child == 0:
        try:
            child_main(demo.pid)
        finally:
            os._exit(0)
    RESUME.set()

    def verify():
        _common.wait_blocked(child, child, _common.futex_address(RECORDS.mutex), what="forked child")
        writer.join()
        demo.wait_main_blocked(syscalls=("wait4",))
        demo.ready({
            "parent_pid": demo.pid,
            "child_pid": child,
            "writer": THREADS["request"],
            "lock": _common.lock_facts(RECORDS.mutex, "SpoolQueue.mutex", "Lock"),
            "wait_site": _common.site(child_main, "log.info("),
        })

    demo.setup_thread(verify)
    os.waitpid(child, 0)


if __name__ == "__main__":
    args = _common.parse_args("fork_queue_lock", __doc__)
    demo = _common.Demo("fork_queue_lock", args)
    demo.run(main, demo)
