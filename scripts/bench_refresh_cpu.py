"""CPU seconds pooltui itself spends per refresh of a Pool(N) (py-spy's own CPU left out):
``LiveSource.capture()`` + what the TUI does with it (``Session.add``, the redraw's
``last_diff`` and ``lingering``), in steady state (after ``--warm`` refreshes, so the
verdicts over time see a full window).

Compares checkouts on a loaded machine: one demo pool, then each checkout's refresh loop
in a child process with its own PYTHONPATH, interleaved round by round (A B, B A, ...),
CPU time (not wall time: other load only adds waiting).

    .venv/bin/python scripts/bench_refresh_cpu.py --mode blocked --rounds 4 /tmp/before /tmp/after

where /tmp/before and /tmp/after hold ``git archive REV pooltui demo`` of the two revisions.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import statistics
import subprocess
import sys
import time


async def loop(pid: int, warm: int, count: int) -> dict[str, float]:
    from pooltui.sources import LiveSource
    from pooltui.ui.session import Session

    source, session = LiveSource(pid), Session(live=True)
    shares = "history" in inspect.signature(session.add).parameters  # a checkout whose session takes the source's History

    async def refresh() -> None:
        snapshot = await source.capture()
        session.add(snapshot, source.history) if shares else session.add(snapshot)  # type: ignore[call-arg]
        session.last_diff()
        session.lingering()

    for _ in range(warm):
        await refresh()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await refresh()
    return {"cpu": (time.process_time() - cpu) / count, "wall": (time.perf_counter() - wall) / count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", help="checkouts to compare (PYTHONPATH of each child)")
    parser.add_argument("--mode", default="blocked", help="demo/pool_size.py --mode (idle, blocked, half, bursty, spin)")
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warm", type=int, default=22)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # the pid to refresh, in a child
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(loop(args.child, args.warm, args.count))))
        return 0
    from pooltui import scenarios

    results: dict[str, list[float]] = {tree: [] for tree in args.trees}
    with scenarios.start("pool_size", sys.executable, args=("--workers", str(args.workers), "--mode", args.mode), timeout=240) as demo:
        for r in range(args.rounds):
            for tree in args.trees if r % 2 == 0 else args.trees[::-1]:
                cmd = [sys.executable, __file__, "--child", str(demo.pid), "--warm", str(args.warm), "--count", str(args.count)]
                out = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": tree}, capture_output=True, text=True, check=True)
                got = json.loads(out.stdout.strip().splitlines()[-1])
                results[tree].append(got["cpu"])
                print(f"round {r} {tree}: {1000 * got['cpu']:.1f} ms CPU per refresh (wall {1000 * got['wall']:.1f} ms)", flush=True)
    for tree, cpu in results.items():
        print(f"{tree}: median {1000 * statistics.median(cpu):.1f}, min {1000 * min(cpu):.1f} ms CPU per refresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
