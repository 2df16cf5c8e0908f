"""asyncio_executor -- a coroutine holds a threading.Lock across `await run_in_executor()` of work that needs it.

Real-world incident: an asyncio service guards its stats with a `threading.Lock` shared
with worker threads. A request handler takes it in a `with` block and, inside it, awaits
`loop.run_in_executor(None, read_stats)`; `read_stats` is a synchronous helper that takes
the same lock. The executor thread blocks on the lock; the coroutine waits for the executor;
the loop itself looks idle (epoll), so py-spy shows nothing stuck on the loop thread.

One process: MainThread runs asyncio.run(serve()); serve() awaits handle_request(), which
is suspended inside `with STATS_LOCK:` at the await; the default executor's thread waits on
STATS_LOCK in read_stats.

What pooltui should show:
* MainThread: an idle event loop (waits in select()).
* the executor thread: waits on _asyncio_executor_app.STATS_LOCK (Lock), no owner recorded.
* Diagnosis: deadlock (a guess: warning): the lock is held inside `with` by handle_request(),
  a suspended coroutine (its frame is on no thread's stack: memory says so), whose loop idles.

The coroutines live in demo/_asyncio_executor_app.py: 2.7 cannot parse them, and this
script refuses it in one line.

Truth: loop {name, ident, tid}, waiter {name, ident, tid}, lock {name, kind, id, futex},
coroutine, wait_site.
"""
from __future__ import print_function

import sys

import _common


def main(demo):
    import asyncio

    from _asyncio_executor_app import STATS_LOCK, THREADS, read_stats, serve
    loop = _common.thread_info()

    def verify():
        _common.wait_until(lambda: THREADS, "the executor thread to start read_stats")
        waiter = list(THREADS.values())[0]
        _common.wait_blocked(demo.pid, waiter["tid"], _common.futex_address(STATS_LOCK), what="executor thread")
        _common.wait_blocked(demo.pid, loop["tid"], syscalls=_common.POLL_SYSCALLS, what="event loop")
        demo.ready({
            "loop": loop,
            "waiter": waiter,
            "lock": _common.lock_facts(STATS_LOCK, "_asyncio_executor_app.STATS_LOCK", "threading.Lock"),
            "coroutine": "handle_request",
            "wait_site": _common.site(read_stats, "with STATS_LOCK:"),
        })

    demo.setup_thread(verify)
    asyncio.run(serve())


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        sys.exit("demo/asyncio_executor.py needs Python 3.8+ (asyncio.run)")
    args = _common.parse_args("asyncio_executor", __doc__)
    demo = _common.Demo("asyncio_executor", args)
    demo.run(main, demo)
