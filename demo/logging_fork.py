"""logging_fork -- a handler lock inherited locked across fork(): workers hang on their first log call.

Real-world incident: a service logs through a batching handler that ships records to a log
collector; a background thread flushes the batch. The main thread creates a
multiprocessing.Pool (fork) while that flush is in progress, i.e. while the flusher thread
holds the handler's lock. fork() copies the lock in its locked state but not the thread that
holds it, so in every worker the lock stays locked forever, with an owner that does not exist
there. Each worker hangs on its first `log.info(...)`; the parent waits in map() for ever.

The handler, BufferingHandler (a logging.Handler subclass), guards its buffer with its OWN
`self.flush_lock = threading.RLock()`, taken in emit() and in flush(). (Since 3.7 logging
re-creates the standard Handler.lock in the child after fork, so the stock lock no longer
reproduces this on 3.x; third-party handlers with their own locks still do -- and on 2.7 the
same handler behaves identically, so the scenario is one story on every version.)
Thread "log-flusher" calls handler.flush(), which takes flush_lock and then blocks in a slow
network write to the collector (time.sleep). An Event set inside flush() tells the main thread
that the lock is held; only then does it create Pool(--workers N, default 3) and call
`pool.map(process_order, range(N))`; each task logs "processing order %d" and blocks.

What pooltui should show:
* root: role pool parent; MainThread waiting in Pool.map; thread "log-flusher" in
  BufferingHandler.flush -> BufferingHandler._send_to_collector (time.sleep, wait kind sleep),
  holding BufferingHandler.flush_lock (RLock owner = its ident, count 1); pool handler threads.
* each worker: wait kind lock, innermost user frame BufferingHandler.emit at the
  `with self.flush_lock:` line (under Logger.info -> ... -> Handler.handle); 2.7: an
  `acquire (threading.py)` frame of the pure-Python _RLock above it. Lock
  BufferingHandler.flush_lock: locked, owner ident = the parent's log-flusher ident, which is
  not a thread of the worker.
  2.7 note: the worker's interpreter still lists the parent's other threads as stale thread
  states (py-spy shows a "ghost" log-flusher stack in every worker); they have no kernel task.
* Diagnosis: lock inherited locked across fork(), orphaned (error): owner is not a live thread
  of the waiting process; the holder lives in the parent (pid, "log-flusher").

Truth: parent_pid, holder {name, ident, tid, pid}, lock {name, kind, id, futex}, worker_pids,
wait_site, hold_site.
"""
from __future__ import print_function

import logging
import os
import threading
import time

import _common

COLLECTOR_LATENCY = 3600.0
log = logging.getLogger("orders")


class BufferingHandler(logging.Handler):
    """Buffers formatted records and ships them to a log collector in batches."""

    def __init__(self, capacity=1000):
        logging.Handler.__init__(self)
        self.flush_lock = threading.RLock()
        self.buffer = []
        self.capacity = capacity
        self.flushing = threading.Event()

    def emit(self, record):
        with self.flush_lock:
            self.buffer.append(self.format(record))
            if len(self.buffer) >= self.capacity:
                self._send_to_collector(self.buffer)
                self.buffer = []

    def flush(self):
        with self.flush_lock:
            self.flushing.set()
            batch, self.buffer = self.buffer, []
            self._send_to_collector(batch)

    def _send_to_collector(self, batch):
        time.sleep(COLLECTOR_LATENCY)     # the collector is slow; we wait on the socket


def flush_periodically(handler, registry):
    registry.update(_common.thread_info(), pid=os.getpid())
    while True:
        handler.flush()
        time.sleep(1.0)


CHANNEL = None


def init_worker(channel):
    global CHANNEL
    CHANNEL = channel


def process_order(order):
    CHANNEL.send(event="logging", ident=_common.current_ident())
    log.info("processing order %d", order)      # hangs: flush_lock was copied locked
    return order


def main(demo, workers):
    handler = BufferingHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.info("service starting")              # before the flusher runs: the lock is free
    holder = {}
    flusher = threading.Thread(target=flush_periodically, args=(handler, holder),
                               name="log-flusher")
    flusher.daemon = True
    flusher.start()
    if not handler.flushing.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("log-flusher never took flush_lock")
    _common.wait_blocked(demo.pid, holder["tid"], syscalls=_common.SLEEP_SYSCALLS,
                         what="log-flusher")

    ctx = _common.get_context("fork")
    channel = _common.Channel()
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(channel,))

    def verify():
        pids = sorted(m["pid"] for m in channel.collect(workers, event="logging"))
        for pid in pids:
            _common.wait_blocked(pid, pid, _common.futex_address(handler.flush_lock),
                                 what="worker logging")
        demo.wait_main_blocked()
        demo.ready({
            "parent_pid": demo.pid,
            "holder": holder,
            "lock": _common.lock_facts(handler.flush_lock, "BufferingHandler.flush_lock",
                                       "RLock"),
            "worker_pids": _common.pool_pids(pool),
            "wait_site": _common.site(BufferingHandler.emit, "with self.flush_lock:"),
            "hold_site": _common.site(BufferingHandler._send_to_collector, "time.sleep("),
        })

    demo.setup_thread(verify)
    pool.map(process_order, range(workers), chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("logging_fork", __doc__, workers=3)
    demo = _common.Demo("logging_fork", args)
    demo.run(main, demo, args.workers)
