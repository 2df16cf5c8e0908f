"""A small pool the TUI tests record from: Pool(3) where one worker spins, one holds a
multiprocessing.Lock while it sleeps and one waits for that lock in ``with lock:``; the
root also runs ``sleep`` (a child that is not Python, so the tree shows an error row).

Usage: python pool_target.py READY_FIFO   (writes "ready\\n" to the FIFO once every worker
has started its task; the main thread then blocks in map()).

How tests/fixtures/tui-pool-*.json were recorded (re-record the three together):
    mkfifo /tmp/ready; python tests/ui/pool_target.py /tmp/ready & cat /tmp/ready
    pooltui snapshot $! --locals -o tests/fixtures/tui-pool-py311.json
    pooltui snapshot $! --locals -o tests/fixtures/tui-pool-py311-later.json   # ~2 s later
    kill -9 <the worker running spin()>; wait until the pool has replaced it
    pooltui snapshot $! --locals -o tests/fixtures/tui-pool-killed-py311.json
then SIGKILL the root and its workers, and update tests/ui/__snapshots__ (--snapshot-update).
"""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time

LOCK = None
STARTED = None


def init(lock, started):
    global LOCK, STARTED
    LOCK, STARTED = lock, started


def spin(n):
    total = 0
    while True:
        total += sum(range(n))


def hold_lock(seconds):
    with LOCK:
        STARTED.put("holder")
        time.sleep(seconds)


def wait_for_lock():
    STARTED.put("waiter")
    with LOCK:
        return "never"


def task(i):
    if i == 0:
        STARTED.put("spinner")
        spin(1000)
    elif i == 1:
        hold_lock(3600)
    else:
        time.sleep(0.3)  # let the holder take the lock first
        wait_for_lock()


def main(ready):
    helper = subprocess.Popen(["sleep", "3600"])
    ctx = mp.get_context("fork")
    lock, started = ctx.Lock(), ctx.Queue()
    with ctx.Pool(3, initializer=init, initargs=(lock, started)) as pool:
        result = pool.map_async(task, range(3), chunksize=1)
        for _ in range(3):
            started.get(timeout=30)
        time.sleep(0.5)  # the waiter reaches `with LOCK:` after it reported
        with open(ready, "w") as f:
            f.write("ready\n")
        try:
            result.get()
        finally:
            helper.kill()


if __name__ == "__main__":
    main(sys.argv[1])
