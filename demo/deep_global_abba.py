"""deep_global_abba -- an ABBA deadlock on two module-level locks taken 8 frames deep, in code with no source.

Real-world incident: a plugin's code is loaded with exec() from a string (a template
engine, a rules engine, code fetched from a database), so its file name names no file.
Its module-level locks `LEDGER_LOCK` and `JOURNAL_LOCK` are taken deep in a call chain:
`post()` takes the ledger then the journal, `audit()` the journal then the ledger, each
eight calls down. The waiting frames have no locals that reach the locks, no source line
says `with LOCK:`, and the functions that could lead to the module's globals are far
outside the innermost frames: only each waiting frame's own globals name the lock.

What pooltui should show (one process, no pool):
* "post": waits on plugin_rules.JOURNAL_LOCK (RLock) held by 'audit', in post_entries
  (<plugin-rules>, no source line).
* "audit": waits on plugin_rules.LEDGER_LOCK (RLock) held by 'post'.
* Neither thread is "idle": a thread blocked in a lock acquire waits, source or not.
* 2.7: threading.RLock is the Python _RLock (an `acquire (threading.py)` frame on top).
* Diagnosis: deadlock cycle (error) naming both locks.

Truth: threads {name: {name, ident, tid, holds, waits_for, depth}}, locks {name: {name,
kind, id, futex, holder}}, code_file (the exec'd code's file name).
"""
from __future__ import print_function

import threading

import _common

CODE_FILE = "<plugin-rules>"  # no such file: pooltui cannot read a source line
DEPTH = 8  # calls between the thread's target and the frame waiting on the second lock

PLUGIN = '''
import threading

LEDGER_LOCK = threading.RLock()
JOURNAL_LOCK = threading.RLock()


def post_entries(holding, other_holds):
    with LEDGER_LOCK:
        holding.set()
        other_holds.wait()
        with JOURNAL_LOCK:
            pass


def audit_entries(holding, other_holds):
    with JOURNAL_LOCK:
        holding.set()
        other_holds.wait()
        with LEDGER_LOCK:
            pass


def descend(work, holding, other_holds, depth):
    if depth:
        return descend(work, holding, other_holds, depth - 1)
    return work(holding, other_holds)


def post(holding, other_holds, depth):
    descend(post_entries, holding, other_holds, depth)


def audit(holding, other_holds, depth):
    descend(audit_entries, holding, other_holds, depth)
'''

THREADS = {}


def load_plugin():
    namespace = {"__name__": "plugin_rules"}
    exec(compile(PLUGIN, CODE_FILE, "exec"), namespace)
    return namespace


def main(demo):
    plugin = load_plugin()
    events = {"post": threading.Event(), "audit": threading.Event()}
    other = {"post": "audit", "audit": "post"}

    def run(name):
        _common.register_thread(THREADS)
        plugin[name](events[name], events[other[name]], DEPTH)

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in ("post", "audit")]
    for thread in threads:
        thread.daemon = True
        thread.start()

    def verify():
        for event in events.values():
            if not event.wait(_common.STATE_TIMEOUT):
                raise _common.StateNotReached("a thread never took its first lock")
        locks = {"plugin_rules.LEDGER_LOCK": plugin["LEDGER_LOCK"], "plugin_rules.JOURNAL_LOCK": plugin["JOURNAL_LOCK"]}
        plan = {"post": ("plugin_rules.LEDGER_LOCK", "plugin_rules.JOURNAL_LOCK"),
                "audit": ("plugin_rules.JOURNAL_LOCK", "plugin_rules.LEDGER_LOCK")}
        truth_threads, lock_truth = {}, {}
        for name, (holds, waits_for) in sorted(plan.items()):
            info = THREADS[name]
            _common.wait_blocked(demo.pid, info["tid"], _common.futex_address(locks[waits_for]), what=name)
            info.update(holds=holds, waits_for=waits_for, depth=DEPTH)
            truth_threads[name] = info
            lock_truth[holds] = _common.lock_facts(locks[holds], holds, "RLock")
            lock_truth[holds]["holder"] = name
        demo.wait_main_blocked()
        demo.ready({"threads": truth_threads, "locks": lock_truth, "code_file": CODE_FILE})

    demo.setup_thread(verify)
    threads[0].join()


if __name__ == "__main__":
    args = _common.parse_args("deep_global_abba", __doc__)
    demo = _common.Demo("deep_global_abba", args)
    demo.run(main, demo)
