"""orphan_global -- a module-level RLock held by a parent thread at fork(): the child hangs.

Real-world incident: a module-level `STATE_LOCK = threading.RLock()` guards a config file;
a background "saver" thread of the parent holds it while the main thread forks a worker
(os.fork, as pre-fork servers and fork-start pools do). The child inherits the lock
locked, owned by a thread that does not exist in the child, and its first `with
STATE_LOCK:` blocks forever.

What pooltui should show (parent + one forked child):
* child MainThread: waits on __main__.STATE_LOCK (RLock) held by a thread ident that does
  not exist in this process (it was 'saver' in the parent), at the `with STATE_LOCK:` line
  of load_state.
* parent "saver": sleeps inside `with STATE_LOCK:` in save_state.
* Diagnosis: orphaned lock (error) in the child, naming 'saver' in the parent pid.

Truth: parent_pid, child_pid, holder {name, ident, tid}, lock {name, kind, id, futex},
wait_site {file, function, qualname, line}.
"""
from __future__ import print_function

import os
import threading
import time

import _common

STATE_LOCK = threading.RLock()
THREADS = {}
HOLDING = threading.Event()


def save_state():
    _common.register_thread(THREADS)
    with STATE_LOCK:
        HOLDING.set()
        time.sleep(3600)              # slow disk write, lock held


def load_state():
    with STATE_LOCK:                  # in the child: owned by 'saver', which is not here
        return {}


def main(demo):
    saver = threading.Thread(target=save_state, name="saver")
    saver.daemon = True
    saver.start()
    if not HOLDING.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the saver never took the lock")
    child = os.fork()
    if child == 0:
        try:
            _common.child_setup(demo.pid)
            load_state()
        finally:
            os._exit(0)

    def verify():
        _common.wait_blocked(child, child, _common.futex_address(STATE_LOCK), what="forked child")
        demo.wait_main_blocked(syscalls=("wait4",))
        demo.ready({
            "parent_pid": demo.pid,
            "child_pid": child,
            "holder": THREADS["saver"],
            "lock": _common.lock_facts(STATE_LOCK, "__main__.STATE_LOCK", "RLock"),
            "wait_site": _common.site(load_state, "with STATE_LOCK:"),
        })

    demo.setup_thread(verify)
    os.waitpid(child, 0)


if __name__ == "__main__":
    args = _common.parse_args("orphan_global", __doc__)
    demo = _common.Demo("orphan_global", args)
    demo.run(main, demo)
