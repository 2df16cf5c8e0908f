"""dead_holder -- a process dies holding a multiprocessing.Lock; the pool blocks on it forever.

Real-world incident: a journal writer process takes the shared journal lock (a
multiprocessing.Lock, i.e. a POSIX semaphore in shared memory) and is SIGKILLed (OOM killer)
before it releases it. A semaphore has no owner the kernel could clean up after, so it stays
at 0 for good: every worker that later wants to write the journal blocks forever, and nobody
alive holds the lock.

Process "journal-writer" (fork) acquires JOURNAL_LOCK and sleeps; the root SIGKILLs and reaps
it, then starts Pool(--workers N, default 3) whose workers get the lock through the
initializer; `pool.map(write_journal, range(N))` -- every worker blocks in `with JOURNAL_LOCK:`.

What pooltui should show:
* root: role pool parent, MainThread waiting in Pool.map; pool handler threads.
* N workers: wait kind lock, frames SemLock.__enter__ (multiprocessing/synchronize.py) over
  write_journal at the `with JOURNAL_LOCK:` line; lock JOURNAL_LOCK (multiprocessing.Lock):
  semaphore value 0, count 0 in every live process, last_tid of no live thread -- holder: none
  alive (the killed pid, if the tool saw it earlier).
* the killed pid: gone (event: exited by SIGKILL if sampled before).
* Diagnosis: orphaned lock / lock held by a dead process (error): waiters on a semaphore that
  no live process holds.

Truth: killed_pid, killed_name, killed_ident (the dead holder thread's ident = the SemLock's
last_tid as the holder left it), lock {name, kind, id, futex}, waiter_pids, worker_pids, wait_site.
"""
from __future__ import print_function

import os
import signal
import time

import _common

JOURNAL_LOCK = None
CHANNEL = None


def init_worker(lock, channel):
    global JOURNAL_LOCK, CHANNEL
    JOURNAL_LOCK, CHANNEL = lock, channel


def hold_journal(lock, channel):
    lock.acquire()
    channel.send(event="holding", ident=_common.current_ident())
    time.sleep(3600)                 # killed here, lock still taken


def write_journal(entry):
    CHANNEL.send(event="acquiring", ident=_common.current_ident())
    with JOURNAL_LOCK:
        return entry


def main(demo, workers):
    ctx = _common.get_context("fork")
    lock, channel = ctx.Lock(), _common.Channel()
    writer = ctx.Process(target=hold_journal, args=(lock, channel), name="journal-writer")
    writer.daemon = True
    writer.start()
    holding = channel.collect(1, event="holding")[0]
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(_common.STATE_TIMEOUT)
    _common.wait_gone(writer.pid)
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(lock, channel))

    def verify():
        waiters = sorted(m["pid"] for m in channel.collect(workers, event="acquiring"))
        for pid in waiters:
            _common.wait_blocked(pid, pid, _common.futex_address(lock), what="waiter worker")
        demo.wait_main_blocked()
        demo.ready({
            "killed_pid": writer.pid,
            "killed_name": writer.name,
            "killed_ident": holding["ident"],
            "lock": _common.lock_facts(lock, "JOURNAL_LOCK", "multiprocessing.Lock"),
            "waiter_pids": waiters,
            "worker_pids": _common.pool_pids(pool),
            "wait_site": _common.site(write_journal, "with JOURNAL_LOCK:"),
        })

    demo.setup_thread(verify)
    pool.map(write_journal, range(workers), chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("dead_holder", __doc__, workers=3)
    demo = _common.Demo("dead_holder", args)
    demo.run(main, demo, args.workers)
