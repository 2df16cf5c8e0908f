"""asyncio_blocked -- an asyncio event loop blocked by `with lock:` inside a coroutine.

Real-world incident: an asyncio service shares a cache with a background refresher thread
through a threading.Lock. A request handler (a coroutine) does `with CACHE_LOCK:` -- a
synchronous acquire -- while the refresher holds the lock during a slow refresh. The whole
event loop stops: no other request, timer or health check runs until the refresher lets go.
py-spy shows the loop thread "idle", sitting in a coroutine.

One process (no pool): the main thread runs asyncio.run(serve()); serve() starts a ticker
task (asyncio.sleep loop) and awaits handle_request(), which blocks in `with CACHE_LOCK:`.
Thread "cache-refresher" took CACHE_LOCK (a module-level threading.Lock) and sleeps inside
`with CACHE_LOCK:` in refresh_cache.

What pooltui should show:
* MainThread: "the event loop is blocked (in coroutine handle_request ...)" waiting on
  CACHE_LOCK at the `with CACHE_LOCK:` line -- not "idle asyncio event loop".
* cache-refresher: sleeps in refresh_cache inside `with CACHE_LOCK:` (it holds it).
* Diagnosis: blocked_event_loop (warning) naming the coroutine, the lock and its holder.

The coroutines live in demo/_asyncio_app.py, imported once the interpreter is known to be
3.8+: Python 2.7 cannot even parse `async def`, so this script refuses it in one line.

Truth: loop {name, ident, tid}, holder {name, ident, tid}, lock {name, kind, id, futex},
wait_site, hold_site, coroutine.
"""
from __future__ import print_function

import sys
import threading

import _common

def main(demo):
    import asyncio

    from _asyncio_app import CACHE_LOCK, handle_request, refresh_cache, serve
    holding = {}
    refresher = threading.Thread(target=refresh_cache, args=(holding,), name="cache-refresher")
    refresher.daemon = True
    refresher.start()
    _common.wait_until(lambda: holding.get("ready"), "the refresher to hold CACHE_LOCK")
    loop = _common.thread_info()

    def verify():
        _common.wait_blocked(holding["tid"], holding["tid"], syscalls=_common.SLEEP_SYSCALLS)
        _common.wait_blocked(demo.pid, loop["tid"], _common.futex_address(CACHE_LOCK), what="event loop")
        demo.ready({
            "loop": loop,
            "holder": dict((k, holding[k]) for k in ("name", "ident", "tid")),
            "lock": _common.lock_facts(CACHE_LOCK, "CACHE_LOCK", "threading.Lock"),
            "coroutine": "handle_request",
            "wait_site": _common.site(handle_request, "with CACHE_LOCK:"),
            "hold_site": _common.site(refresh_cache, "time.sleep("),
        })

    demo.setup_thread(verify)
    asyncio.run(serve())


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        sys.exit("demo/asyncio_blocked.py needs Python 3.8+ (asyncio.run)")
    args = _common.parse_args("asyncio_blocked", __doc__)
    demo = _common.Demo("asyncio_blocked", args)
    demo.run(main, demo)
