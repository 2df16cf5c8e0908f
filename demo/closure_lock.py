"""closure_lock -- readers queue up behind an RLock that lives only in a closure cell.

Real-world incident: a factory builds a cache as a pair of functions sharing a lock through
their closure (`make_cache()` returns `refresh` and `lookup`); the refresher holds the lock
across a slow origin call (here `time.sleep`) and every reader stalls. No frame has the lock
as a local and no object has it as an attribute: it lives in the functions' cells.

What pooltui should show (one process, no pool; --workers N readers, default 2):
* "refresher": sleeps inside `with lock:` in refresh -- the holder (RLock owner).
* "reader-1", "reader-2": wait on make_cache.<locals>.lock (RLock) held by 'refresher', in
  lookup at the `with lock:` line (2.7 has no __qualname__: lookup.<closure>.lock).
* Diagnosis: lock contention (warning), no error.

Truth: lock {name, kind, id, futex}, holder {name, ident, tid}, waiters [{name, ident, tid}],
wait_site {file, function, qualname, line}.
"""
from __future__ import print_function

import threading
import time

import _common

THREADS = {}
HOLDING = threading.Event()


def make_cache():
    lock = threading.RLock()
    entries = {}

    def refresh():
        _common.register_thread(THREADS)
        with lock:
            HOLDING.set()
            time.sleep(3600)          # the slow origin call, lock held

    def lookup(key):
        _common.register_thread(THREADS)
        with lock:
            return entries.get(key)

    return lock, refresh, lookup


def main(demo):
    lock, refresh, lookup = make_cache()
    refresher = threading.Thread(target=refresh, name="refresher")
    refresher.daemon = True
    refresher.start()
    if not HOLDING.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the refresher never took the lock")
    readers = []
    for i in range(args.workers):
        reader = threading.Thread(target=lookup, args=("k",), name="reader-%d" % (i + 1))
        reader.daemon = True
        reader.start()
        readers.append(reader)

    def verify():
        futex = _common.futex_address(lock)
        names = ["reader-%d" % (i + 1) for i in range(args.workers)]
        _common.wait_until(lambda: all(n in THREADS for n in names), "readers registered")
        for name in names:
            _common.wait_blocked(demo.pid, THREADS[name]["tid"], futex, what=name)
        _common.wait_blocked(demo.pid, THREADS["refresher"]["tid"], syscalls=_common.SLEEP_SYSCALLS, what="refresher")
        demo.wait_main_blocked()
        demo.ready({
            "lock": _common.lock_facts(lock, "make_cache.<locals>.lock", "RLock"),
            "holder": THREADS["refresher"],
            "waiters": [THREADS[n] for n in names],
            "wait_site": _common.site(lookup, "with lock:"),
        })

    demo.setup_thread(verify)
    refresher.join()


if __name__ == "__main__":
    args = _common.parse_args("closure_lock", __doc__, workers=2)
    demo = _common.Demo("closure_lock", args)
    demo.run(main, demo)
