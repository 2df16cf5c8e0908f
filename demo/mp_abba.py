"""mp_abba -- two processes deadlock on two multiprocessing.Locks taken in opposite orders.

Real-world incident: the cross-process cousin of abba. Two worker processes share a Ledger
with two multiprocessing.Locks (accounts, audit). One code path takes accounts then audit,
another audit then accounts; when they run at the same time each process holds one semaphore
and sleeps forever on the other. No thread of either process can see the cycle: it spans two
processes and two shared semaphores.

Processes (--method fork (default) | spawn | forkserver; 2.7: fork only) "transfer-1" runs
transfer_accounts_then_audit: `with ledger.accounts_lock:` then `with ledger.audit_lock:`;
"transfer-2" runs transfer_audit_then_accounts in the opposite order. Both report holding
their first lock; the root then sets a multiprocessing.Event so both go for their second lock
at once. The root's MainThread joins transfer-1.

Under spawn and forkserver each process has its own copy of each SemLock at its own address
(only the /dev/shm semaphore under it is shared): pooltui must match them by that file's
device and inode, never by address.

What pooltui should show:
* root: role parent of two multiprocessing.Process children (forkserver: of the forkserver);
  MainThread in Process.join (wait kind join).
* transfer-1 (truth.processes["transfer-1"].pid): wait kind lock, SemLock.__enter__ over
  transfer_accounts_then_audit at the `with ledger.audit_lock:` line; holds
  Ledger.accounts_lock (SemLock count 1 and last_tid = its ident in that process).
* transfer-2: the mirror image (holds Ledger.audit_lock, waits on Ledger.accounts_lock).
* Diagnosis: deadlock cycle across processes (error): transfer-1 -> Ledger.audit_lock ->
  transfer-2 -> Ledger.accounts_lock -> transfer-1, under every start method.

Truth: method, processes {name: {name, pid, ident, holds, waits_for, wait_site}}, locks
{lock name: {name, kind, id, futex, holder_pid}} (id and futex as seen in the holder).
"""
from __future__ import print_function

import _common


class Ledger(object):
    def __init__(self, ctx):
        self.accounts_lock = ctx.Lock()
        self.audit_lock = ctx.Lock()


def _holding(channel, ledger, holds, waits_for):
    # the addresses are this process's own: under spawn/forkserver they differ from the root's
    locks = {"Ledger.accounts_lock": ledger.accounts_lock, "Ledger.audit_lock": ledger.audit_lock}
    channel.send(event="holding", pid=_common.os.getpid(), ident=_common.current_ident(),
                 holds=_common.lock_facts(locks[holds], holds, "multiprocessing.Lock"),
                 waits_on=_common.futex_address(locks[waits_for]))


def transfer_accounts_then_audit(ledger, go, channel):
    _common.child_setup()
    with ledger.accounts_lock:
        _holding(channel, ledger, "Ledger.accounts_lock", "Ledger.audit_lock")
        go.wait()
        with ledger.audit_lock:
            pass


def transfer_audit_then_accounts(ledger, go, channel):
    _common.child_setup()
    with ledger.audit_lock:
        _holding(channel, ledger, "Ledger.audit_lock", "Ledger.accounts_lock")
        go.wait()
        with ledger.accounts_lock:
            pass


def main(demo, method):
    ctx = _common.get_context(method)
    ledger, go = Ledger(ctx), ctx.Event()
    channel = _common.Channel() if method == "fork" else _common.QueueChannel(ctx)
    plan = {  # process name -> (target, holds, waits for, `with` line of the second lock)
        "transfer-1": (transfer_accounts_then_audit, "Ledger.accounts_lock",
                       "Ledger.audit_lock", "with ledger.audit_lock:"),
        "transfer-2": (transfer_audit_then_accounts, "Ledger.audit_lock",
                       "Ledger.accounts_lock", "with ledger.accounts_lock:"),
    }
    procs = {}
    for name, (target, _, _, _) in sorted(plan.items()):
        procs[name] = ctx.Process(target=target, args=(ledger, go, channel), name=name)
        procs[name].daemon = True
        procs[name].start()

    def verify():
        held = dict((m["holds"]["name"], m) for m in channel.collect(2, event="holding"))
        go.set()
        processes, lock_truth = {}, {}
        for name, (target, holds, waits_for, line) in sorted(plan.items()):
            pid = procs[name].pid
            _common.wait_blocked(pid, pid, held[holds]["waits_on"], what=name)
            processes[name] = {"name": name, "pid": pid, "ident": held[holds]["ident"],
                               "holds": holds, "waits_for": waits_for,
                               "wait_site": _common.site(target, line)}
            lock_truth[holds] = dict(held[holds]["holds"], holder_pid=pid)
        # fork/spawn: waitpid(); forkserver: the child is not ours, join() polls its sentinel
        demo.wait_main_blocked(syscalls=("wait4",) + _common.POLL_SYSCALLS)
        demo.ready({"method": method, "processes": processes, "locks": lock_truth})

    demo.setup_thread(verify)
    procs["transfer-1"].join()


def _options(parser):
    parser.add_argument("--method", choices=("fork", "spawn", "forkserver"), default="fork",
                        help="multiprocessing start method (2.7: fork only)")


if __name__ == "__main__":
    args = _common.parse_args("mp_abba", __doc__, extra=_options)
    demo = _common.Demo("mp_abba", args, start_method=args.method)
    demo.run(main, demo, args.method)
