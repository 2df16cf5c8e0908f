"""loop_future -- a coroutine waits for a future that only its own event loop can complete.

Real-world incident: a library offers a sync API on top of an async client: it hands the
coroutine to the client's loop with `asyncio.run_coroutine_threadsafe(coro, loop)` and waits
on `.result()`. Called from a plain thread it works; called from a coroutine of that same
loop (an async request handler reusing the sync helper), the loop thread blocks in
`.result()`, and the loop that would run the coroutine is the one blocked: it never runs.
Every task, timer and connection of that loop stops. py-spy shows the loop's thread idle in
`threading.Condition.wait`, under a coroutine.

One process: the main thread runs asyncio.run(); a ticker task; a request handler that first
runs a bit of work in a ThreadPoolExecutor (its thread stays, idle) then calls the sync
helper. The executor's thread could set no future of the loop's.
--healthy: the twin: a plain thread 'sync-client' calls the same kind of helper (its
coroutine sleeps for an hour) while the loop runs freely: a wait that will end.

What pooltui should show: a deadlock_cycle (error, inferred) of the loop's thread with
itself: it waits for a future of run_coroutine_threadsafe() that only its own loop would
complete; the fix says to await the coroutine.

Truth: loop {name, ident, tid} (or client, --healthy).
"""
from __future__ import print_function

import sys
import threading

import _common


def main(demo, healthy):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from _loop_future_app import handle, lookup_slowly, ticker

    loop_thread = _common.thread_info()
    started = {}

    def verify():
        _common.wait_until(lambda: "loop" in started, "the loop to start")
        if healthy:
            _common.wait_until(lambda: "tid" in client, "the sync client to start")
            _common.wait_blocked(demo.pid, client["tid"], what="the sync client's result()")
            demo.ready({"client": dict(client)})
        else:
            _common.wait_until(lambda: "handler" in started, "the handler to call the sync helper")
            _common.wait_blocked(demo.pid, loop_thread["tid"], what="the loop's thread in result()")
            demo.ready({"loop": loop_thread})

    client = {}

    def sync_client(loop):
        client.update(_common.thread_info())
        lookup_slowly(loop)

    async def serve():
        loop = asyncio.get_running_loop()
        started["loop"] = True
        asyncio.ensure_future(ticker())
        if healthy:
            t = threading.Thread(target=sync_client, args=(loop,), name="sync-client")
            t.daemon = True
            t.start()
            await asyncio.sleep(3600)
        else:
            await handle(ThreadPoolExecutor(1), lambda: started.update(handler=True))

    demo.setup_thread(verify)
    asyncio.run(serve())


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        sys.exit("demo/loop_future.py needs Python 3.8+ (asyncio.run)")

    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("loop_future", __doc__, extra=extra)
    demo = _common.Demo("loop_future", args)
    demo.run(main, demo, args.healthy)
