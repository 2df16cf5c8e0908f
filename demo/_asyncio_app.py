"""The application of the asyncio_blocked demo: a cache lock shared by a refresher thread
and a coroutine that takes it synchronously (Python 3.8+: `async def`)."""
import threading
import time

import _common

CACHE_LOCK = threading.Lock()
REFRESH_TIME = 3600.0


def refresh_cache(holding):
    with CACHE_LOCK:
        holding.update(_common.thread_info())
        holding["ready"] = True
        time.sleep(REFRESH_TIME)    # the slow refresh, the lock held


async def handle_request():
    with CACHE_LOCK:                # a synchronous acquire inside a coroutine
        return "cached"


async def ticker():
    while True:
        await __import__("asyncio").sleep(0.5)


async def serve():
    import asyncio
    asyncio.ensure_future(ticker())
    await handle_request()
