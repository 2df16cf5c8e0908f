"""plain_lock -- reader threads queue up behind a plain threading.Lock held across a slow call.

Real-world incident: a cache refresher takes the cache's lock and then makes a slow call to
the origin (HTTP fetch, DB query; here `time.sleep`) while still holding it. Every request
thread that reads the cache stalls behind it. Nothing is deadlocked -- the holder is alive
and will release eventually -- but the service is frozen meanwhile.

What pooltui should show (one process, no pool; --workers N sets the number of readers, default 2):
* thread "cache-refresher": wait kind sleep, stack Cache.refresh -> Cache._fetch_from_origin
  (time.sleep), inside `with self.lock:` -- the holder of Cache.lock.
* threads "reader-1", "reader-2": wait kind lock, innermost frame Cache.lookup at the
  `with self.lock:` line (no acquire frame: it is a C lock), lock = Cache.lock, kind "lock"
  (plain threading.Lock: it records no owner, so the holder comes from the futex address and
  the refresher's stack being inside a `with self.lock:` of the same Cache object).
* MainThread: wait kind join (waiting for cache-refresher).
* Diagnosis: lock contention (waiters behind a sleeping holder); no deadlock cycle.

Truth: lock {name, kind, id, futex}, holder {name, ident, tid}, waiters [{name, ident, tid}],
wait_site, hold_site and with_site (where the holder took it) {file, function, qualname, line}.
"""
from __future__ import print_function

import threading
import time

import _common

ORIGIN_LATENCY = 3600.0


class Cache(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = {}
        self.refreshing = threading.Event()
        self.threads = {}          # name -> {"name", "ident", "tid"}

    def refresh(self):
        _common.register_thread(self.threads)
        with self.lock:
            self.refreshing.set()
            self.entries = self._fetch_from_origin()

    def _fetch_from_origin(self):
        time.sleep(ORIGIN_LATENCY)         # the slow call made while holding the lock
        return {"answer": 42}

    def lookup(self, key):
        _common.register_thread(self.threads)
        with self.lock:
            return self.entries.get(key)


def main(demo, readers):
    cache = Cache()
    refresher = threading.Thread(target=cache.refresh, name="cache-refresher")
    refresher.daemon = True
    refresher.start()
    if not cache.refreshing.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("cache-refresher never took the lock")
    names = ["reader-%d" % (i + 1) for i in range(readers)]
    for name in names:
        reader = threading.Thread(target=cache.lookup, args=("answer",), name=name)
        reader.daemon = True
        reader.start()

    def verify():
        addr = _common.futex_address(cache.lock)
        _common.wait_until(lambda: all(name in cache.threads for name in names),
                           "the readers to start")
        for name in names:
            _common.wait_blocked(demo.pid, cache.threads[name]["tid"], addr, what=name)
        demo.wait_main_blocked()
        demo.ready({
            "lock": _common.lock_facts(cache.lock, "Cache.lock", "lock"),
            "holder": cache.threads["cache-refresher"],
            "waiters": [cache.threads[name] for name in names],
            "wait_site": _common.site(Cache.lookup, "with self.lock:"),
            "hold_site": _common.site(Cache._fetch_from_origin, "time.sleep("),
            "with_site": _common.site(Cache.refresh, "with self.lock:"),
        })

    demo.setup_thread(verify)
    refresher.join()


if __name__ == "__main__":
    args = _common.parse_args("plain_lock", __doc__, workers=2)
    demo = _common.Demo("plain_lock", args)
    demo.run(main, demo, args.workers)
