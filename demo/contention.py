"""contention -- pool workers serialise on one multiprocessing.Lock; one holds it for long.

Real-world incident: every task appends to a shared ledger file guarded by one
multiprocessing.Lock (handed to the workers through the Pool initializer). One task's write
stalls (slow NFS, full disk -- here `time.sleep`) while it holds the lock, and the whole pool
queues behind it: N workers, throughput of one, or of zero.

Pool(--workers N, default 4), start method fork. `pool.map(append_to_ledger, range(N))`: each
worker takes one task; the first to get LEDGER_LOCK sleeps inside `with LEDGER_LOCK:`.

What pooltui should show:
* root: role pool parent, MainThread waiting in Pool.map (wait kind condition/event), plus the
  pool's handler threads (worker handler, task handler, result handler).
* holder worker (truth.holder.pid): wait kind sleep in append_to_ledger -> _write_entry
  (time.sleep), inside `with LEDGER_LOCK:`; it holds LEDGER_LOCK (SemLock last_tid = its ident,
  count 1).
* the other N-1 workers: wait kind lock, frames SemLock.__enter__ (multiprocessing/synchronize.py)
  over append_to_ledger at the `with LEDGER_LOCK:` line; lock = LEDGER_LOCK
  (multiprocessing.Lock, one shared semaphore, value 0), holder = the holder worker.
* Diagnosis: lock contention / convoy (warning): N-1 waiters behind one holder; no deadlock.

Truth: lock {name, kind, id, futex (= SemLock handle, same in every worker)}, holder {pid, ident},
waiter_pids, worker_pids, wait_site, hold_site.
"""
from __future__ import print_function

import time

import _common

LEDGER_LOCK = None
CHANNEL = None
SLOW_WRITE = 3600.0


def init_worker(lock, channel):
    global LEDGER_LOCK, CHANNEL
    LEDGER_LOCK, CHANNEL = lock, channel


def _write_entry(entry):
    time.sleep(SLOW_WRITE)          # the write that stalls while the lock is held


def append_to_ledger(entry):
    CHANNEL.send(event="acquiring", ident=_common.current_ident())
    with LEDGER_LOCK:
        CHANNEL.send(event="holding", ident=_common.current_ident())
        _write_entry(entry)
    return entry


def main(demo, workers):
    ctx = _common.get_context("fork")
    lock, channel = ctx.Lock(), _common.Channel()
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(lock, channel))

    def verify():
        messages = channel.collect(workers + 1)
        holder = [m for m in messages if m["event"] == "holding"][0]
        waiters = sorted(m["pid"] for m in messages
                         if m["event"] == "acquiring" and m["pid"] != holder["pid"])
        for pid in waiters:
            _common.wait_blocked(pid, pid, _common.futex_address(lock), what="waiter worker")
        _common.wait_blocked(holder["pid"], holder["pid"], syscalls=_common.SLEEP_SYSCALLS,
                             what="holder worker")
        demo.wait_main_blocked()
        demo.ready({
            "lock": _common.lock_facts(lock, "LEDGER_LOCK", "multiprocessing.Lock"),
            "holder": {"pid": holder["pid"], "ident": holder["ident"]},
            "waiter_pids": waiters,
            "worker_pids": _common.pool_pids(pool),
            "wait_site": _common.site(append_to_ledger, "with LEDGER_LOCK:"),
            "hold_site": _common.site(_write_entry, "time.sleep("),
        })

    demo.setup_thread(verify)
    pool.map(append_to_ledger, range(workers), chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("contention", __doc__, workers=4)
    demo = _common.Demo("contention", args)
    demo.run(main, demo, args.workers)
