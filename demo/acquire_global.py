"""acquire_global -- handlers block on a module-level plain Lock taken with LOCK.acquire().

Real-world incident: a module-level `FLUSH_LOCK = threading.Lock()` serialises writes to an
audit file; a background "flusher" thread calls `FLUSH_LOCK.acquire()` (no `with`), then
blocks on a slow fsync (here `time.sleep`) -- and an error path would skip the release.
Request handlers queue up behind it. A plain Lock records no owner, and `acquire()` leaves
no `with` block on the holder's frame.

What pooltui should show (one process; --workers N handlers, default 2):
* "handler-1", "handler-2": wait on __main__.FLUSH_LOCK (Lock) at the `with FLUSH_LOCK:`
  line of handle_request; the holder is not recorded (a plain Lock has no owner field).
* "flusher": sleeps in flush, past `FLUSH_LOCK.acquire()`.
* No error verdict (nothing proves a deadlock).

Truth: lock {name, kind, id, futex}, holder {name, ident, tid}, waiters [{name, ident, tid}],
wait_site {file, function, qualname, line}.
"""
from __future__ import print_function

import threading
import time

import _common

FLUSH_LOCK = threading.Lock()
THREADS = {}
HOLDING = threading.Event()


def flush():
    _common.register_thread(THREADS)
    FLUSH_LOCK.acquire()
    HOLDING.set()
    time.sleep(3600)                  # the slow fsync; the release is never reached
    FLUSH_LOCK.release()


def handle_request():
    _common.register_thread(THREADS)
    with FLUSH_LOCK:
        return "ok"


def main(demo):
    flusher = threading.Thread(target=flush, name="flusher")
    flusher.daemon = True
    flusher.start()
    if not HOLDING.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the flusher never took the lock")
    names = ["handler-%d" % (i + 1) for i in range(args.workers)]
    for name in names:
        thread = threading.Thread(target=handle_request, name=name)
        thread.daemon = True
        thread.start()

    def verify():
        futex = _common.futex_address(FLUSH_LOCK)
        _common.wait_until(lambda: all(n in THREADS for n in names), "handlers registered")
        for name in names:
            _common.wait_blocked(demo.pid, THREADS[name]["tid"], futex, what=name)
        _common.wait_blocked(demo.pid, THREADS["flusher"]["tid"], syscalls=_common.SLEEP_SYSCALLS, what="flusher")
        demo.wait_main_blocked()
        demo.ready({
            "lock": _common.lock_facts(FLUSH_LOCK, "__main__.FLUSH_LOCK", "Lock"),
            "holder": THREADS["flusher"],
            "waiters": [THREADS[n] for n in names],
            "wait_site": _common.site(handle_request, "with FLUSH_LOCK:"),
            "hold_site": _common.site(flush, "FLUSH_LOCK.acquire()"),
        })

    demo.setup_thread(verify)
    flusher.join()


if __name__ == "__main__":
    args = _common.parse_args("acquire_global", __doc__, workers=2)
    demo = _common.Demo("acquire_global", args)
    demo.run(main, demo)
