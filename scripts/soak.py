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

RSS is that of this process, so the soak's own bookkeeping is kept constant-size: RSS is
sampled once a second (not per capture: ~100k captures in 10 minutes would add ~4 MB of
samples), and kills are counted and forgotten once their exit is logged.

  python scripts/soak.py --duration 600      # the 10-minute soak (docs/speed.md)
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
from typing import Optional

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pooltui import scenarios
from pooltui.analysis.diff import diff_snapshots, process_events
from pooltui.model import Snapshot
from pooltui.sources import LiveSource


def _mb(size: int) -> float:
    return round(size / 2**20, 1)


class Ledger:
    """Kills and exits, shared by the killer thread and the watcher, in constant space."""

    def __init__(self) -> None:
        self.seen: set[int] = set()  # pool workers pooltui has shown that have not exited yet: the killer's choice
        self.pending: set[int] = set()  # killed, exit not logged yet
        self.kills = 0
        self.logged = 0
        self._lock = threading.Lock()

    def kill(self, pid: int) -> None:
        with self._lock:  # counted before the signal: its exit may be logged before os.kill returns
            self.pending.add(pid)
            self.kills += 1
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            with self._lock:
                self.pending.discard(pid)
                self.kills -= 1

    def shown(self, snap: Snapshot) -> None:
        self.seen.update(p.pid for p in snap.processes if p.role == "pool worker" and p.status != "zombie")
        for p in snap.processes:
            if p.status == "zombie":
                self.exited(p.pid)

    def exited(self, pid: int) -> None:
        with self._lock:
            self.seen.discard(pid)
            if pid in self.pending:
                self.pending.discard(pid)
                self.logged += 1


def killer(root: int, ledger: Ledger, stop: threading.Event, low: float, high: float) -> None:
    """SIGKILL a random pool worker pooltui has already seen, every low..high seconds."""
    rng = random.Random(1234)
    while not stop.wait(rng.uniform(low, high)):
        try:
            workers = [c.pid for c in psutil.Process(root).children() if c.status() != psutil.STATUS_ZOMBIE and c.pid in ledger.seen]
        except psutil.Error:
            return
        if workers:
            ledger.kill(rng.choice(workers))


async def watch(source: LiveSource, seconds: float, ledger: Ledger, rss: list[tuple[float, int]], stop: threading.Event) -> int:
    me = psutil.Process()
    previous: Optional[Snapshot] = None
    captures = 0
    start = time.monotonic()
    deadline, sample = start + seconds, start
    while time.monotonic() < deadline:
        snap = await source.capture()
        captures += 1
        ledger.shown(snap)
        if previous is not None:
            for e in process_events(diff_snapshots(previous, snap)):
                if e.kind == "process_exited":
                    ledger.exited(e.pid)
        previous = snap
        if time.monotonic() >= sample:
            rss.append((time.monotonic() - start, me.memory_info().rss))
            sample += 1.0
    rss.append((time.monotonic() - start, me.memory_info().rss))
    stop.set()
    # after the last kill: one more look, so a kill made during the final capture is seen
    await asyncio.sleep(0.5)
    snap = await source.capture()
    ledger.shown(snap)
    for e in process_events(diff_snapshots(previous, snap)) if previous is not None else ():
        if e.kind == "process_exited":
            ledger.exited(e.pid)
    return captures + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, nargs=2, default=(0.2, 0.5), metavar=("LOW", "HIGH"))
    parser.add_argument("--rss-growth", type=float, default=0.10, help="allowed RSS growth after warm-up (default 10%%)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the RSS baseline (default: 10%% of the duration, at least 30)")
    parser.add_argument("--rss-log", type=Path, help="also write each second's RSS (seconds, bytes) to this file")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else max(30.0, args.duration / 10)

    demo = scenarios.start("healthy", sys.executable, args=("--workers", str(args.workers)), lifetime=args.duration + 120)
    ledger = Ledger()
    rss: list[tuple[float, int]] = []
    stop = threading.Event()
    try:
        source = LiveSource(demo.pid)
        thread = threading.Thread(target=killer, args=(demo.pid, ledger, stop, *args.kill_every), daemon=True)
        thread.start()
        crashed = ""
        try:
            captures = asyncio.run(watch(source, args.duration, ledger, rss, stop))
        except Exception as exc:  # the point of a soak: any crash is the finding
            crashed, captures = f"{type(exc).__name__}: {exc}", 0
        stop.set()
        thread.join(timeout=5)
    finally:
        demo.stop()
    if args.rss_log:
        args.rss_log.write_text("".join(f"{t:.1f} {b}\n" for t, b in rss))
    # the first sample at or past the warm-up (the last one when the run was shorter)
    warm = next((b for t, b in rss if t >= warmup), rss[-1][1] if rss else 0)
    end = rss[-1][1] if rss else 0
    after = [b for t, b in rss if t >= warmup]
    missing = sorted(ledger.pending)
    result = {
        "duration_s": args.duration,
        "captures": captures,
        "kills": ledger.kills,
        "exits_logged": ledger.logged,
        "missing": missing,
        "warmup_s": warmup,
        "rss_start_mb": _mb(rss[0][1]) if rss else None,
        "rss_after_warmup_mb": _mb(warm),
        "rss_max_after_warmup_mb": _mb(max(after)) if after else None,
        "rss_end_mb": _mb(end),
        "crashed": crashed,
    }
    ok = not crashed and not missing and ledger.kills and (not warm or end <= warm * (1 + args.rss_growth))
    result["ok"] = bool(ok)
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
