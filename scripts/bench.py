#!/usr/bin/env python3
"""pooltui against plain py-spy, in one run (``make bench``; ``--full`` for the long one).

First the whole commands, as a user times them (scripts/bench_command.py): on Pool(64)
idle, bursty, half spinning and blocked, ``pooltui snapshot ROOT -o r.json --format json``
against ``for p in PIDS; do py-spy dump --pid $p --json; done``, alternating in one series
with pooltui's in-process capture of the same tree; the same again with a busy loop on
every CPU (``loaded``: started and stopped by the bench); the command against the loop on
idle pools of 16, 64, 256 and 1,000 workers (``growth``); then ``pooltui snapshot`` of one
process and ``pooltui --version``.

Then in-process: demo pools (demo/pool_size.py) of 4, 16, 64 and 128 workers, idle, half spinning
and all blocked, and measures side by side on each: a serial ``py-spy dump --pid`` loop
over the tree's pids, ``py-spy dump --subprocesses`` on the root, pooltui's first full
capture (LiveSource.capture: walk, stacks, locks, analysis) and its refresh of the
unchanged tree. Then: dumps in flight 1/2/4/8, paused vs unpaused dumps of a spinning
worker, time to the first complete screen, key -> screen latency and event-loop stalls
while a 128-process tree is dumped, the throughput a CPU-bound target loses to a watching
pooltui (2 s refresh), and pooltui's RSS over many refreshes.

Writes bench/latest.json and prints its Markdown tables (scripts/bench_tables.py, which
`make bench` then runs to rewrite docs/speed.md's tables from that JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_capture as cap  # noqa: E402
import bench_command as cmd  # noqa: E402
import bench_locks as lk  # noqa: E402
import bench_tables  # noqa: E402
import bench_ui as ui  # noqa: E402

from pooltui import scenarios  # noqa: E402
from pooltui.capture import procs, pyspy  # noqa: E402
from pooltui.capture.snapshot import default_concurrency  # noqa: E402

MODES = ("idle", "half", "blocked")
COMMAND_MODES = ("idle", "bursty", "half", "blocked")  # issue 18's four workloads


def start(workers: int, mode: str) -> scenarios.RunningDemo:
    return scenarios.start("pool_size", sys.executable, args=("--workers", str(workers), "--mode", mode), timeout=240)


def tree_row(workers: int, mode: str) -> dict[str, Any]:
    """Each measure ``reps`` times, interleaved, best of them: the machine is shared, and
    other load only ever adds time."""
    reps = 1 if mode == "half" and workers >= 64 else 2 if workers >= 64 else 3
    with start(workers, mode) as demo:
        pids = [info.pid for info in procs.walk_tree(demo.pid)]
        sub, serial, full, pyspy_cpu = [], [], [], []
        for _ in range(reps):
            sub.append(cap.pyspy_subprocesses(demo.pid))
            serial.append(cap.pyspy_serial(pids))
            before = cap.children_cpu()
            full.append(cap.run(cap.full(demo.pid))[0])
            pyspy_cpu.append(cap.children_cpu() - before)
        _, source = cap.run(cap.full(demo.pid))
        refresh = cap.run(cap.refreshes(source, 5))
    return {
        "workers": workers,
        "mode": mode,
        "processes": len(pids),
        "serial": min(serial),
        "subprocesses": min(s for s, _ in sub),
        "subprocesses_printed": sub[0][1],
        "full": min(full),
        # CPU time of the py-spy runs of the fastest full capture: spread perfectly over
        # every CPU, that alone takes this share of the loop (the bound for dumping every process)
        "pyspy_cpu": pyspy_cpu[full.index(min(full))],
        "refresh": refresh["seconds"],
        "refresh_dumped": refresh["dumped"],
        "refresh_pyspy_runs": refresh["pyspy_runs"],
        "steady": refresh["steady_seconds"],
        "steady_dumped": refresh["steady_dumped"],
        "steady_pyspy_runs": refresh["steady_pyspy_runs"],
        "settled_after": refresh["settled_after"],
    }


def command_row(workers: int, mode: str, rounds: int) -> dict[str, Any]:
    """Whole commands as a user times them (scripts/bench_command.py), with pooltui's
    in-process capture of the same tree in the same series, and its py-spy runs."""
    with start(workers, mode) as demo:
        pids = [info.pid for info in procs.walk_tree(demo.pid)]
        runs: list[int] = []

        def in_process() -> float:
            with cap.DumpCounter() as counter:
                seconds = cap.run(cap.full(demo.pid))[0]
            runs.append(counter.calls)
            return seconds

        row = cmd.whole_command(demo.pid, pids, rounds, in_process)
    return {"workers": workers, "mode": mode, "processes": len(pids), "pyspy_runs": statistics.median(runs), **row}


def one_process(rounds: int) -> dict[str, Any]:
    lone = cmd.lone_python()
    try:
        assert lone.stdout is not None
        lone.stdout.readline()
        return cmd.one_process(lone.pid, rounds)
    finally:
        lone.kill()
        lone.wait()


def sweep(levels: tuple[int, ...]) -> dict[str, dict[int, float]]:
    out = {}
    for mode in ("idle", "half"):
        with start(64, mode) as demo:
            out[mode] = cap.run(cap.concurrency_sweep(demo.pid, levels, 1 if mode == "half" else 2))
    return out


def pause_modes(count: int) -> dict[str, Any]:
    with start(procs.cpu_count(), "spin") as demo:  # one spinner per CPU: always on a CPU while it is read
        return cap.run(cap.pause_modes(demo.truth["busy_pids"][0], {"spin", "spin_chunk"}, count))


def first_screen(workers: int = 16) -> dict[str, Any]:
    with start(workers, "idle") as demo:
        pids = [info.pid for info in procs.walk_tree(demo.pid)]
        sub = min(cap.pyspy_subprocesses(demo.pid)[0] for _ in range(3))
        headless = [cap.run(ui.first_screen(demo.pid)) for _ in range(3)]
        terminal = [t for t in (ui.first_screen_terminal(demo.pid, pids) for _ in range(2)) if t is not None]
    best = min(headless, key=lambda h: h["seconds"])
    return {
        "workers": workers,
        "subprocesses": sub,
        "headless": best["seconds"],
        "headless_capture": best["capture"],
        "headless_app": best["app"],
        "terminal": min(terminal) if terminal else None,
    }


def keys(workers: int = 128) -> dict[str, Any]:
    out = {}
    for mode in ("idle", "blocked"):
        with start(workers, mode) as demo:
            out[mode] = cap.run(ui.keys_during_capture(demo.pid))
    return out


def observer(window: float, pairs: int) -> dict[str, Any]:
    return cap.run(ui.observer_cost(procs.cpu_count(), window, pairs))


def memory(refreshes: int, workers: int = 64) -> dict[str, Any]:
    with start(workers, "idle") as demo:
        return ui.memory_child(demo.pid, refreshes)


def growth(sizes: tuple[int, ...], rounds: int) -> list[dict[str, Any]]:
    """The whole command on idle pools of growing size: its cost per process."""
    rows = []
    for workers in sizes:
        with start(workers, "idle") as demo:
            pids = [info.pid for info in procs.walk_tree(demo.pid)]
            rows.append({"workers": workers, **cmd.growth_row(demo.pid, pids, rounds if workers < 1000 else max(1, rounds // 2))})
    return rows


SECTIONS = ("commands", "loaded", "growth", "one", "trees", "sweep", "pause", "first_screen", "keys", "observer", "memory", "locks")


def run_section(name: str, args: argparse.Namespace) -> Any:
    if name == "commands":
        cmd.compile_modules()
        return [command_row(args.command_workers, mode, args.rounds or (15 if args.full else 7)) for mode in COMMAND_MODES]
    if name == "loaded":  # the same rows with every CPU running a busy loop the bench starts and stops
        cmd.compile_modules()
        with cmd.busy_loops(procs.cpu_count()):
            return [command_row(args.command_workers, mode, args.rounds or (15 if args.full else 7)) for mode in COMMAND_MODES]
    if name == "growth":
        cmd.compile_modules()
        return growth((16, 64, 256, 1000), args.rounds or (5 if args.full else 3))
    if name == "one":
        cmd.compile_modules()
        return one_process(args.rounds or (21 if args.full else 9))
    if name == "trees":
        return [tree_row(w, mode) for w in (int(x) for x in args.sizes.split(",")) for mode in MODES]
    if name == "sweep":
        return sweep((1, 2, 4, 8))
    if name == "pause":
        return pause_modes(100)
    if name == "first_screen":
        return first_screen()
    if name == "keys":
        return keys()
    if name == "observer":
        return observer(6.0, 24 if args.full else 8)
    if name == "locks":
        return lk.locks_row()
    return memory(1000 if args.full else 200)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="1000 refreshes for RSS, 24 observer window pairs instead of 8")
    parser.add_argument("--rounds", type=int, default=0, help="rounds of the whole-command series (default 7, --full 15)")
    parser.add_argument("--command-workers", type=int, default=64, help="pool size of the whole-command rows (default 64)")
    parser.add_argument("--sizes", default="4,16,64,128", help="pool sizes (default 4,16,64,128)")
    parser.add_argument("--only", help=f"comma-separated sections to run again, the rest kept from --out: {','.join(SECTIONS)}")
    parser.add_argument("--out", default=str(ROOT / "bench" / "latest.json"), help="JSON results (default bench/latest.json)")
    parser.add_argument("--memory-child", nargs=2, type=int, metavar=("ROOT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(asyncio.run(ui.memory_main(*args.memory_child))))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: every pool started is stopped
    out = Path(args.out)
    only = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    started = time.time()
    result: dict[str, Any] = json.loads(out.read_text()) if args.only and out.exists() else {}
    result.update(
        command=" ".join(["python scripts/bench.py", *sys.argv[1:]]) if not args.only else result.get("command", "python scripts/bench.py"),
        date=time.strftime("%Y-%m-%d", time.localtime(started)),
        machine={
            "cpus": procs.cpu_count(),
            "python": f"Python {platform.python_version()}",
            "py-spy": subprocess.run([pyspy.find_pyspy(), "--version"], capture_output=True, text=True).stdout.split()[-1],
            "default_concurrency": default_concurrency(),
        },
    )
    result.pop("load", None)
    for name in only:
        print(f"bench: {name} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
        result[name] = run_section(name, args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(bench_tables.all_tables(result))
    print(f"bench: done in {time.time() - started:.0f} s; wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
