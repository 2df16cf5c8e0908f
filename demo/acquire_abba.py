"""acquire_abba -- two threads deadlock on two plain Locks taken with acquire(), not `with`.

Real-world incident: a bank's `move(src, dst)` takes the two account locks it is given with
`src.acquire()` then `dst.acquire()` (releases in a `finally`); two moves in opposite
directions at once deadlock. A plain Lock records no owner and `acquire()` leaves no `with`
block on the holder's frame: the holders are known only from the threads' own source (past
`src.acquire()`) and their locals (which lock `src` is in each frame).

--spelling argument (default): both threads run move(src, dst), the locks passed in -- the same
  names for two different locks in two frames;
--spelling global: transfer() takes ACCOUNTS then AUDIT, reconcile() the opposite, by their
  module names, each with NAME.acquire().

What pooltui should show (one process, no pool):
* each of the two threads waits on the other's first lock (Lock), each lock told apart by
  its address (and its name where it lives), the holder named as inferred from its source;
* Diagnosis: deadlock cycle (error) naming both threads and both locks.
* No "No problems found".

Truth: spelling, threads {name: {name, ident, tid, holds, waits_for, wait_site}}, locks
{lock name: {name, kind, id, futex, holder}}.
"""
from __future__ import print_function

import threading

import _common

ACCOUNTS = threading.Lock()
AUDIT = threading.Lock()
THREADS = {}
FIRST = {"t-a": threading.Event(), "t-b": threading.Event()}


def move(src, dst, me, other):
    _common.register_thread(THREADS)
    src.acquire()
    try:
        FIRST[me].set()
        FIRST[other].wait()
        dst.acquire()
        dst.release()
    finally:
        src.release()


def transfer():
    _common.register_thread(THREADS)
    ACCOUNTS.acquire()
    try:
        FIRST["t-a"].set()
        FIRST["t-b"].wait()
        AUDIT.acquire()
        AUDIT.release()
    finally:
        ACCOUNTS.release()


def reconcile():
    _common.register_thread(THREADS)
    AUDIT.acquire()
    try:
        FIRST["t-b"].set()
        FIRST["t-a"].wait()
        ACCOUNTS.acquire()
        ACCOUNTS.release()
    finally:
        AUDIT.release()


def main(demo, spelling):
    locks = {"__main__.ACCOUNTS": ACCOUNTS, "__main__.AUDIT": AUDIT}
    if spelling == "argument":
        targets = {"t-a": (move, (ACCOUNTS, AUDIT, "t-a", "t-b")), "t-b": (move, (AUDIT, ACCOUNTS, "t-b", "t-a"))}
        plan = {"t-a": ("__main__.ACCOUNTS", "__main__.AUDIT", move, "dst.acquire()"),
                "t-b": ("__main__.AUDIT", "__main__.ACCOUNTS", move, "dst.acquire()")}
    else:
        targets = {"t-a": (transfer, ()), "t-b": (reconcile, ())}
        plan = {"t-a": ("__main__.ACCOUNTS", "__main__.AUDIT", transfer, "AUDIT.acquire()"),
                "t-b": ("__main__.AUDIT", "__main__.ACCOUNTS", reconcile, "ACCOUNTS.acquire()")}
    threads = [threading.Thread(target=f, args=a, name=n) for n, (f, a) in sorted(targets.items())]
    for thread in threads:
        thread.daemon = True
        thread.start()

    def verify():
        for event in FIRST.values():
            if not event.wait(_common.STATE_TIMEOUT):
                raise _common.StateNotReached("a thread never took its first lock")
        truth_threads, lock_truth = {}, {}
        for name, (holds, waits_for, func, line) in sorted(plan.items()):
            info = THREADS[name]
            _common.wait_blocked(demo.pid, info["tid"], _common.futex_address(locks[waits_for]), what=name)
            info.update(holds=holds, waits_for=waits_for, wait_site=_common.site(func, line))
            truth_threads[name] = info
            lock_truth[holds] = _common.lock_facts(locks[holds], holds, "Lock")
            lock_truth[holds]["holder"] = name
        demo.wait_main_blocked()
        demo.ready({"spelling": spelling, "threads": truth_threads, "locks": lock_truth})

    demo.setup_thread(verify)
    threads[0].join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--spelling", choices=("argument", "global"), default="argument",
                            help="how the locks are named where they are taken (see the header)")

    args = _common.parse_args("acquire_abba", __doc__, extra=extra)
    demo = _common.Demo("acquire_abba", args)
    demo.run(main, demo, args.spelling)
