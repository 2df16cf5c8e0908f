#!/usr/bin/env python3
"""Soak: pooltui watching a pool whose workers are killed and replaced at random.

The scenario (demo/healthy.py) runs a Pool; this script -- not pooltui -- SIGKILLs a
random worker every few hundred ms, and the Pool replaces it. Meanwhile pooltui's
LiveSource refreshes as fast as it can (no pause between captures), and the process
events are derived between consecutive snapshots as the TUI does. At the end:

- pooltui never crashed (every capture returned a snapshot);
- its memory stayed flat (RSS after warm-up vs at the end, within --rss-growth);
- every kill of a worker pooltui had seen is in the event log (as exited, or as a zombie
  -- killed but not yet reaped by the pool -- in the last snapshot).

  python scripts/soak.py --duration 600      # the 10-minute soak (README)
  python scripts/soak.py --duration 60       # what `make test` runs (tests/live/test_soak.py)

Prints one JSON line with the figures; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pooltui import scenarios
from pooltui.analysis.diff import diff_snapshots, process_events
from pooltui.sources import LiveSource


def killer(root: int, seen: set[int], kills: list[tuple[float, int]], stop: threading.Event, low: float, high: float) -> None:
    """SIGKILL a random pool worker pooltui has already seen, every low..high seconds."""
    rng = random.Random(1234)
    while not stop.wait(rng.uniform(low, high)):
        try:
            workers = [c.pid for c in psutil.Process(root).children() if c.status() != psutil.STATUS_ZOMBIE and c.pid in seen]
        except psutil.Error:
            return
        if workers:
            victim = rng.choice(workers)
            try:
                os.kill(victim, signal.SIGKILL)
                kills.append((time.time(), victim))
            except ProcessLookupError:
                pass


async def watch(source: LiveSource, seconds: float, seen: set[int], rss: list[int], exited: set[int], stop: threading.Event) -> int:
    me = psutil.Process()
    previous = None
    captures = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        snap = await source.capture()
        captures += 1
        seen.update(p.pid for p in snap.processes if p.role == "pool worker")
        exited.update(p.pid for p in snap.processes if p.status == "zombie")
        if previous is not None:
            exited.update(e.pid for e in process_events(diff_snapshots(previous, snap)) if e.kind == "process_exited")
        previous = snap
        rss.append(me.memory_info().rss)
    stop.set()
    # after the last kill: one more look, so a kill made during the final capture is seen
    await asyncio.sleep(0.5)
    snap = await source.capture()
    exited.update(p.pid for p in snap.processes if p.status == "zombie")
    exited.update(e.pid for e in process_events(diff_snapshots(previous, snap)) if e.kind == "process_exited")
    return captures + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, nargs=2, default=(0.2, 0.5), metavar=("LOW", "HIGH"))
    parser.add_argument("--rss-growth", type=float, default=0.10, help="allowed RSS growth after warm-up (default 10%%)")
    args = parser.parse_args()

    demo = scenarios.start("healthy", sys.executable, args=("--workers", str(args.workers)), lifetime=args.duration + 120)
    seen: set[int] = set()
    kills: list[tuple[float, int]] = []
    rss: list[int] = []
    exited: set[int] = set()
    stop = threading.Event()
    try:
        source = LiveSource(demo.pid)
        thread = threading.Thread(target=killer, args=(demo.pid, seen, kills, stop, *args.kill_every), daemon=True)
        thread.start()
        crashed = ""
        try:
            captures = asyncio.run(watch(source, args.duration, seen, rss, exited, stop))
        except Exception as exc:  # the point of a soak: any crash is the finding
            crashed, captures = f"{type(exc).__name__}: {exc}", 0
        stop.set()
        thread.join(timeout=5)
    finally:
        demo.stop()
    warm = rss[min(len(rss) - 1, max(0, len(rss) // 10))] if rss else 0
    end = rss[-1] if rss else 0
    killed = [pid for _, pid in kills]
    missing = sorted(set(killed) - exited)
    result = {
        "duration_s": args.duration,
        "captures": captures,
        "kills": len(killed),
        "exits_logged": len(set(killed) & exited),
        "missing": missing,
        "rss_start_mb": round(rss[0] / 2**20, 1) if rss else None,
        "rss_after_warmup_mb": round(warm / 2**20, 1),
        "rss_end_mb": round(end / 2**20, 1),
        "crashed": crashed,
    }
    ok = not crashed and not missing and killed and (not warm or end <= warm * (1 + args.rss_growth))
    result["ok"] = bool(ok)
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
