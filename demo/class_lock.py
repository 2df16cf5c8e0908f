"""class_lock -- a class-attribute RLock (`Registry._lock`) held by a sleeping named thread.

Real-world incident: a plugin registry guards its class-level table with a lock defined in
the class body (`_lock = threading.RLock()`); a reload thread holds it while it waits on a
slow import (here `time.sleep`), and every request that looks a plugin up stalls. The lock
is not on any instance: it lives in the class's own dict.

What pooltui should show (one process, no pool; --workers N request threads, default 2):
* "plugin-reload": sleeps inside `with cls._lock:` in Registry.reload -- the holder.
* "request-1", "request-2": wait on Registry._lock (RLock) held by 'plugin-reload', in
  Registry.lookup at the `with self._lock:` line.
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


class Registry(object):
    _lock = threading.RLock()
    _plugins = {}

    @classmethod
    def reload(cls):
        _common.register_thread(THREADS)
        with cls._lock:
            HOLDING.set()
            time.sleep(3600)          # a slow import, lock held

    def lookup(self, name):
        _common.register_thread(THREADS)
        with self._lock:
            return self._plugins.get(name)


def main(demo):
    reloader = threading.Thread(target=Registry.reload, name="plugin-reload")
    reloader.daemon = True
    reloader.start()
    if not HOLDING.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the reload thread never took the lock")
    registry = Registry()
    names = ["request-%d" % (i + 1) for i in range(args.workers)]
    for name in names:
        thread = threading.Thread(target=registry.lookup, args=("csv",), name=name)
        thread.daemon = True
        thread.start()

    def verify():
        futex = _common.futex_address(Registry._lock)
        _common.wait_until(lambda: all(n in THREADS for n in names), "request threads registered")
        for name in names:
            _common.wait_blocked(demo.pid, THREADS[name]["tid"], futex, what=name)
        _common.wait_blocked(demo.pid, THREADS["plugin-reload"]["tid"], syscalls=_common.SLEEP_SYSCALLS, what="plugin-reload")
        demo.wait_main_blocked()
        demo.ready({
            "lock": _common.lock_facts(Registry._lock, "Registry._lock", "RLock"),
            "holder": THREADS["plugin-reload"],
            "waiters": [THREADS[n] for n in names],
            "wait_site": _common.site(Registry.lookup, "with self._lock:"),
        })

    demo.setup_thread(verify)
    reloader.join()


if __name__ == "__main__":
    args = _common.parse_args("class_lock", __doc__, workers=2)
    demo = _common.Demo("class_lock", args)
    demo.run(main, demo)
