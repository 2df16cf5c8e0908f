"""plain_abba -- two threads deadlock on two module-level plain Locks taken in opposite orders.

Real-world incident: as global_abba, with plain `threading.Lock()`s. A plain Lock records no
owner: each holder is known only because its frame, inside `with`, keeps the lock's bound
`__exit__` on its value stack (read from memory).

What pooltui should show (one process, no pool):
* "transfer": waits on __main__.AUDIT_LOCK (Lock) held by 'reconcile', held by a with block
  (inside `with AUDIT_LOCK:`), in transfer at the `with AUDIT_LOCK:` line.
* "reconcile": the mirror image on __main__.ACCOUNTS_LOCK.
* Diagnosis: deadlock cycle (error) naming both locks.

Truth: threads {name: {name, ident, tid, holds, waits_for, wait_site}}, locks {name: {name,
kind, id, futex, holder}}.
"""
from __future__ import print_function

import threading

import _common

ACCOUNTS_LOCK = threading.Lock()
AUDIT_LOCK = threading.Lock()
THREADS = {}
TRANSFER_HOLDS = threading.Event()
RECONCILE_HOLDS = threading.Event()


def transfer():
    _common.register_thread(THREADS)
    with ACCOUNTS_LOCK:
        TRANSFER_HOLDS.set()
        RECONCILE_HOLDS.wait()
        with AUDIT_LOCK:
            pass


def reconcile():
    _common.register_thread(THREADS)
    with AUDIT_LOCK:
        RECONCILE_HOLDS.set()
        TRANSFER_HOLDS.wait()
        with ACCOUNTS_LOCK:
            pass


def main(demo):
    threads = [threading.Thread(target=f, name=f.__name__) for f in (transfer, reconcile)]
    for thread in threads:
        thread.daemon = True
        thread.start()

    def verify():
        for event in (TRANSFER_HOLDS, RECONCILE_HOLDS):
            if not event.wait(_common.STATE_TIMEOUT):
                raise _common.StateNotReached("a thread never took its first lock")
        locks = {"__main__.ACCOUNTS_LOCK": ACCOUNTS_LOCK, "__main__.AUDIT_LOCK": AUDIT_LOCK}
        plan = {
            "transfer": ("__main__.ACCOUNTS_LOCK", "__main__.AUDIT_LOCK", transfer, "with AUDIT_LOCK:"),
            "reconcile": ("__main__.AUDIT_LOCK", "__main__.ACCOUNTS_LOCK", reconcile, "with ACCOUNTS_LOCK:"),
        }
        truth_threads, lock_truth = {}, {}
        for name, (holds, waits_for, func, line) in sorted(plan.items()):
            info = THREADS[name]
            _common.wait_blocked(demo.pid, info["tid"], _common.futex_address(locks[waits_for]), what=name)
            info.update(holds=holds, waits_for=waits_for, wait_site=_common.site(func, line))
            truth_threads[name] = info
            lock_truth[holds] = _common.lock_facts(locks[holds], holds, "Lock")
            lock_truth[holds]["holder"] = name
        demo.wait_main_blocked()
        demo.ready({"threads": truth_threads, "locks": lock_truth})

    demo.setup_thread(verify)
    threads[0].join()


if __name__ == "__main__":
    args = _common.parse_args("plain_abba", __doc__)
    demo = _common.Demo("plain_abba", args)
    demo.run(main, demo)
