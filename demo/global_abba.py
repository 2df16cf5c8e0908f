"""global_abba -- two threads deadlock on two module-level RLocks taken in opposite orders.

Real-world incident: a module keeps its locks as globals (`ACCOUNTS_LOCK`, `AUDIT_LOCK`);
`transfer()` takes accounts then audit, `reconcile()` takes audit then accounts. Under load
both run at once and each waits forever for the other. No frame has the locks as locals:
they live in the module's globals, so only the futex address says which lock is waited on.

What pooltui should show (one process, no pool):
* "transfer": waits on __main__.AUDIT_LOCK (RLock) held by 'reconcile', in transfer at the
  `with AUDIT_LOCK:` line.
* "reconcile": waits on __main__.ACCOUNTS_LOCK (RLock) held by 'transfer', in reconcile at
  the `with ACCOUNTS_LOCK:` line.
* 2.7: threading.RLock is the Python _RLock (an `acquire (threading.py)` frame on top).
* Diagnosis: deadlock cycle (error) naming both locks.

Truth: threads {name: {name, ident, tid, holds, waits_for, wait_site}}, locks {name: {name,
kind, id, futex, holder}}.
"""
from __future__ import print_function

import threading

import _common

ACCOUNTS_LOCK = threading.RLock()
AUDIT_LOCK = threading.RLock()
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
            taken = "with %s:" % holds.rpartition(".")[2]
            info.update(holds=holds, waits_for=waits_for, wait_site=_common.site(func, line),
                        hold_site=dict(_common.site(func, taken), code=taken))
            truth_threads[name] = info
            lock_truth[holds] = _common.lock_facts(locks[holds], holds, "RLock")
            lock_truth[holds]["holder"] = name
        demo.wait_main_blocked()
        demo.ready({"threads": truth_threads, "locks": lock_truth})

    demo.setup_thread(verify)
    threads[0].join()


if __name__ == "__main__":
    args = _common.parse_args("global_abba", __doc__)
    demo = _common.Demo("global_abba", args)
    demo.run(main, demo)
