"""The coroutines of demo/asyncio_executor.py (Python 3.8+ syntax, imported only there)."""
import asyncio
import threading

import _common

STATS_LOCK = threading.Lock()
THREADS = {}


def read_stats():
    """A synchronous helper shared with worker threads: it takes STATS_LOCK itself."""
    _common.register_thread(THREADS)
    with STATS_LOCK:
        return {"requests": 1}


async def handle_request():
    loop = asyncio.get_running_loop()
    with STATS_LOCK:                                        # held across the await below
        return await loop.run_in_executor(None, read_stats)  # the executor thread needs STATS_LOCK


async def serve():
    await handle_request()
