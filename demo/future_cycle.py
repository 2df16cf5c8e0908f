"""future_cycle -- a thread holds an RLock and waits for a Future whose work needs that RLock.

Real-world incident: a cache refresh holds the cache's RLock and hands the slow part to a
ThreadPoolExecutor, then waits for it (`future.result()`); the task calls back into the cache,
which takes the same RLock -- in another thread, so it blocks. Neither ever returns. Each fact
on its own looks harmless ("waits for a future", "waits on Cache.lock held by MainThread").

`--via join`: the same with a plain threading.Thread that the holder join()s.

What pooltui should show:
* MainThread: waits for a future's result (or joins 'refresher'), holding Cache.lock.
* the executor thread (or 'refresher'): waits on Cache.lock (RLock) held by MainThread.
* Diagnosis deadlock_cycle (error): MainThread -> executor thread -> MainThread, the future
  (or join) edge and the lock edge each with evidence.

Truth: holder {name, tid, ident}, waiter {name, tid, ident}, lock {name, ...}, via.
"""
from __future__ import print_function

import threading

import _common


class Cache(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.data = {}
        self.threads = {}

    def load(self, key):
        _common.register_thread(self.threads)
        with self.lock:                  # blocks: the refresher holds it, waiting for us
            self.data[key] = key
        return key

    def refresh(self, via, started):
        _common.register_thread(self.threads)
        with self.lock:
            if via == "join":
                worker = threading.Thread(target=self.load, args=("k",), name="refresher")
                worker.daemon = True
                worker.start()
                started.set()
                worker.join()
            else:
                from concurrent.futures import ThreadPoolExecutor
                pool = ThreadPoolExecutor(1)
                future = pool.submit(self.load, "k")
                started.set()
                future.result()


def main(demo, via):
    cache = Cache()
    started = threading.Event()

    def verify():
        if not started.wait(_common.STATE_TIMEOUT):
            raise _common.StateNotReached("refresh never started its work")
        _common.wait_until(lambda: len(cache.threads) == 2, "the worker thread to start")
        worker = [info for name, info in cache.threads.items() if info["tid"] != demo.pid][0]
        _common.wait_blocked(demo.pid, worker["tid"], _common.futex_address(cache.lock), what="worker")
        demo.wait_main_blocked()
        demo.ready({"holder": cache.threads["MainThread"],
                    "waiter": worker, "via": via,
                    "lock": _common.lock_facts(cache.lock, "Cache.lock", "RLock")})

    demo.setup_thread(verify)
    cache.refresh(via, started)


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--via", default="future", choices=("future", "join"))

    args = _common.parse_args("future_cycle", __doc__, extra=extra)
    demo = _common.Demo("future_cycle", args)
    demo.run(main, demo, args.via)
