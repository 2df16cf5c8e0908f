"""abba -- two threads of one process deadlock on two RLocks taken in opposite orders.

Real-world incident: two code paths of a bank service lock the same two resources in
different orders -- a transfer takes the accounts lock then the audit lock, a reconciliation
takes the audit lock then the accounts lock. Under load both run at once, each holds one lock
and waits forever for the other. CPU is zero, logs stop, nothing ever times out.

Thread "transfer-a2b" runs Bank.transfer_a_to_b: `with self.accounts_lock:` then
`with self.audit_lock:`; thread "transfer-b2a" runs Bank.transfer_b_to_a in the opposite order.
An event handshake makes both hold their first lock before either tries its second.

What pooltui should show (one process, no pool):
* "transfer-a2b": wait kind lock (RLock), innermost user frame Bank.transfer_a_to_b at the
  `with self.audit_lock:` line; holds Bank.accounts_lock (owner = its ident, count 1);
  waits on Bank.audit_lock whose holder is "transfer-b2a".
* "transfer-b2a": the mirror image (holds Bank.audit_lock, waits on Bank.accounts_lock at the
  `with self.accounts_lock:` line of Bank.transfer_b_to_a).
* 2.7: threading.RLock is the pure-Python _RLock, so an `acquire (threading.py)` frame sits
  above the user frame; 3.x: C RLock, no acquire frame.
* MainThread: wait kind join.
* Diagnosis: deadlock cycle (error) transfer-a2b -> Bank.audit_lock -> transfer-b2a ->
  Bank.accounts_lock -> transfer-a2b.

Truth: threads {name: {name, ident, tid, holds, waits_for, wait_site}}, locks {lock name:
{name, kind, id, futex, holder}} (holder = thread name).
"""
from __future__ import print_function

import threading

import _common


class Bank(object):
    def __init__(self):
        self.accounts_lock = threading.RLock()
        self.audit_lock = threading.RLock()
        self.balances = {"a": 100, "b": 100}
        self.a2b_holding = threading.Event()
        self.b2a_holding = threading.Event()
        self.threads = {}

    def transfer_a_to_b(self, amount):
        _common.register_thread(self.threads)
        with self.accounts_lock:
            self.balances["a"] -= amount
            self.a2b_holding.set()
            self.b2a_holding.wait()       # both first locks are taken: the ABBA window is open
            with self.audit_lock:
                self.balances["b"] += amount

    def transfer_b_to_a(self, amount):
        _common.register_thread(self.threads)
        with self.audit_lock:
            self.b2a_holding.set()
            self.a2b_holding.wait()
            with self.accounts_lock:
                self.balances["b"] -= amount
                self.balances["a"] += amount


def main(demo):
    bank = Bank()
    a2b = threading.Thread(target=bank.transfer_a_to_b, args=(10,), name="transfer-a2b")
    b2a = threading.Thread(target=bank.transfer_b_to_a, args=(20,), name="transfer-b2a")
    for thread in (a2b, b2a):
        thread.daemon = True
        thread.start()

    def verify():
        for event in (bank.a2b_holding, bank.b2a_holding):
            if not event.wait(_common.STATE_TIMEOUT):
                raise _common.StateNotReached("a transfer thread never took its first lock")
        plan = {  # thread -> (holds, waits for, method, line)
            "transfer-a2b": ("Bank.accounts_lock", "Bank.audit_lock",
                             Bank.transfer_a_to_b, "with self.audit_lock:"),
            "transfer-b2a": ("Bank.audit_lock", "Bank.accounts_lock",
                             Bank.transfer_b_to_a, "with self.accounts_lock:"),
        }
        locks = {"Bank.accounts_lock": bank.accounts_lock, "Bank.audit_lock": bank.audit_lock}
        threads, lock_truth = {}, {}
        for name, (holds, waits_for, method, line) in sorted(plan.items()):
            info = bank.threads[name]
            _common.wait_blocked(demo.pid, info["tid"], _common.futex_address(locks[waits_for]),
                                 what=name)
            info.update(holds=holds, waits_for=waits_for, wait_site=_common.site(method, line))
            threads[name] = info
            lock_truth[holds] = _common.lock_facts(locks[holds], holds, "RLock")
            lock_truth[holds]["holder"] = name
        demo.wait_main_blocked()
        demo.ready({"threads": threads, "locks": lock_truth})

    demo.setup_thread(verify)
    a2b.join()


if __name__ == "__main__":
    args = _common.parse_args("abba", __doc__)
    demo = _common.Demo("abba", args)
    demo.run(main, demo)
