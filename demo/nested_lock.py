"""nested_lock -- locks that are not a direct attribute of the waiting frame's `self`.

Real-world incident: the same as plain_lock (a thread holds a lock across a slow call, others
queue behind it), but the locks live where a naive "look at self.<attr>" resolver cannot see
them: one is reachable only through a chain of attributes, the other is an attribute of a
class with `__slots__` (no instance __dict__; the value sits at a member offset of the type).

* SearchService.rebuild_index / .search use `self.storage.index.lock` (threading.Lock of an
  Index object, owned by a Storage, owned by the SearchService).
  Thread "index-rebuilder" holds it while sleeping; thread "searcher" waits on it.
* RequestCounter has `__slots__ = ("lock", "count")`; `lock` is a threading.RLock.
  Thread "stats-snapshot" holds it while sleeping; thread "request-counter" waits on it.

What pooltui should show (one process, no pool):
* "searcher": wait kind lock, innermost frame SearchService.search at the
  `with self.storage.index.lock:` line; lock = Index.lock reached as self.storage.index.lock
  (kind "lock", no owner field); holder "index-rebuilder" (in time.sleep inside the same
  `with` of SearchService.rebuild_index).
* "request-counter": wait kind lock (RLock; 2.7: pure-Python _RLock with an acquire frame),
  frame RequestCounter.increment at the `with self.lock:` line; lock = RequestCounter.lock
  (a __slots__ member); holder "stats-snapshot" (RLock owner = its ident).
* MainThread: wait kind join. Diagnosis: lock contention on both locks; no deadlock cycle.

Truth: threads {name: {name, ident, tid, holds|waits_for}}, locks {name: {name, kind, id,
futex, path, holder}}, wait_sites {thread name: site}.
"""
from __future__ import print_function

import threading
import time

import _common

SLOW = 3600.0


class Index(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.terms = {}


class Storage(object):
    def __init__(self):
        self.index = Index()


class SearchService(object):
    def __init__(self, registry):
        self.storage = Storage()
        self.registry = registry

    def rebuild_index(self):
        self.registry.register()
        with self.storage.index.lock:
            self.registry.holding("index-rebuilder")
            time.sleep(SLOW)              # re-crawl everything while holding the index lock

    def search(self, term):
        self.registry.register()
        with self.storage.index.lock:
            return self.storage.index.terms.get(term)


class RequestCounter(object):
    __slots__ = ("lock", "count")

    def __init__(self):
        self.lock = threading.RLock()
        self.count = 0

    def snapshot(self, registry):
        registry.register()
        with self.lock:
            registry.holding("stats-snapshot")
            time.sleep(SLOW)              # ship the stats somewhere slow while holding the lock
            return self.count

    def increment(self, registry):
        registry.register()
        with self.lock:
            self.count += 1


class Registry(object):
    """Which thread is who (name, ident, tid) and which holders have their lock."""

    def __init__(self):
        self.threads = {}
        self.held = {}

    def register(self):
        _common.register_thread(self.threads)

    def holding(self, name):
        self.held[name] = True


def start(target, args, name):
    thread = threading.Thread(target=target, args=args, name=name)
    thread.daemon = True
    thread.start()
    return thread


def main(demo):
    registry = Registry()
    service = SearchService(registry)
    counter = RequestCounter()
    rebuilder = start(service.rebuild_index, (), "index-rebuilder")
    start(counter.snapshot, (registry,), "stats-snapshot")
    _common.wait_until(lambda: len(registry.held) == 2, "the holders to take their locks")
    start(service.search, ("python",), "searcher")
    start(counter.increment, (registry,), "request-counter")

    def verify():
        _common.wait_until(lambda: len(registry.threads) == 4, "the waiter threads to start")
        index_lock = service.storage.index.lock
        locks = {
            "Index.lock": dict(_common.lock_facts(index_lock, "Index.lock", "lock"),
                               path="SearchService.storage.index.lock", holder="index-rebuilder"),
            "RequestCounter.lock": dict(_common.lock_facts(counter.lock, "RequestCounter.lock",
                                                           "RLock"),
                                        path="RequestCounter.lock (__slots__ member)",
                                        holder="stats-snapshot"),
        }
        waits = {"searcher": (index_lock, "Index.lock", SearchService.search,
                              "with self.storage.index.lock:"),
                 "request-counter": (counter.lock, "RequestCounter.lock",
                                     RequestCounter.increment, "with self.lock:")}
        threads, sites = {}, {}
        for name, (lock, lock_name, method, line) in sorted(waits.items()):
            info = registry.threads[name]
            _common.wait_blocked(demo.pid, info["tid"], _common.futex_address(lock), what=name)
            threads[name] = dict(info, waits_for=lock_name)
            sites[name] = _common.site(method, line)
        threads["index-rebuilder"] = dict(registry.threads["index-rebuilder"], holds="Index.lock")
        threads["stats-snapshot"] = dict(registry.threads["stats-snapshot"],
                                         holds="RequestCounter.lock")
        demo.wait_main_blocked()
        demo.ready({"threads": threads, "locks": locks, "wait_sites": sites})

    demo.setup_thread(verify)
    rebuilder.join()


if __name__ == "__main__":
    args = _common.parse_args("nested_lock", __doc__)
    demo = _common.Demo("nested_lock", args)
    demo.run(main, demo)
