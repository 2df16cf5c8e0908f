"""CPU-bound target for scripts/bench.py: the observer-cost measurement.

    python bench_spin.py N

A fork Pool of N workers, each spinning and counting its iterations into shared memory
(a RawArray, no lock). Prints "ready" once every worker has counted, then, for each line
read on stdin, one line with the total count so far. The root's main thread sleeps in
that read, the workers never sleep: what pooltui costs them is what they do not count.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import sys
import time

COUNTS = None


def init(counts) -> None:  # type: ignore[no-untyped-def]
    global COUNTS
    COUNTS = counts


def chunk() -> int:
    total = 0
    for i in range(2000):
        total += i & 7
    return total


def spin(slot: int) -> None:
    counts = COUNTS
    assert counts is not None
    while True:
        chunk()
        counts[slot] += 1


def main() -> None:
    n = int(sys.argv[1])
    ctx = mp.get_context("fork")
    counts = ctx.RawArray(ctypes.c_uint64, n)
    pool = ctx.Pool(n, initializer=init, initargs=(counts,))
    pool.map_async(spin, range(n), chunksize=1)
    while not all(counts):
        time.sleep(0.05)
    print("ready", flush=True)
    for _ in sys.stdin:
        print(sum(counts), flush=True)
    pool.terminate()


if __name__ == "__main__":
    main()
