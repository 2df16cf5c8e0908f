"""The application of the loop_future demo (Python 3.8+: `async def`)."""
import asyncio
import time


async def fetch():
    """The coroutine the sync helper asks the loop to run."""
    await asyncio.sleep(0)
    return "value"


async def fetch_slowly():
    await asyncio.sleep(3600)
    return "value"


def lookup(loop):
    """Sync code that asks the loop for a value and waits for it: fine from another thread,
    a deadlock from a coroutine of that very loop (the loop runs fetch() only once this returns)."""
    return asyncio.run_coroutine_threadsafe(fetch(), loop).result()


def lookup_slowly(loop):
    return asyncio.run_coroutine_threadsafe(fetch_slowly(), loop).result()


async def ticker():
    while True:
        await asyncio.sleep(0.5)


async def handle(executor, mark):
    """A request handler: some work in the executor first (its thread stays, idle), then the
    sync helper, called straight from the coroutine."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(executor, time.sleep, 0)
    mark()
    return lookup(loop)
