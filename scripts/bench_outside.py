#!/usr/bin/env python3
"""The whole command as a user runs it, measured from outside the project (issue 28).

``scripts/bench_command.py`` (``make bench``) times ``pooltui snapshot`` from this
repository's editable venv against a demo pool from ``demo/``. This script removes every
piece of the project from the measurement but the command itself:

* pooltui is built as a wheel and installed into a fresh venv (pip compiles its modules, as
  for any user); ``--pooltui PATH`` times an installed ``pooltui`` instead (another build);
* the pool is a plain ``multiprocessing.Pool(N)`` script written to a temporary folder and
  run by the interpreter given (``--python``): no demo code, no readiness plumbing;
* each round runs the serial loop ``for p in PIDS; do py-spy dump --pid $p --json; done``
  and then every pooltui given, in alternating order; wall time, and CPU time of the command
  and every process it ran (``RUSAGE_CHILDREN``); medians and the median of per-round ratios.

    python scripts/bench_outside.py --modes idle bursty half blocked --workers 64
    python scripts/bench_outside.py --modes idle --workers 16 64 256 1000 --rounds 3
    python scripts/bench_outside.py --pooltui /other/venv/bin/pooltui   # compare two builds

Workloads: *idle* (every worker sleeps in its task), *bursty* (half the workers wake every
10 ms for a short burst), *half* (half the workers spin), *blocked* (every worker waits on
one ``multiprocessing.Lock`` the parent holds while it waits for the results: a deadlock).
Nothing here asserts a time; it prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POOL = """
import json, multiprocessing as mp, os, sys, time
MODE, OUT, WORKERS = sys.argv[1], sys.argv[2], int(sys.argv[3])
LOCK = STARTED = None
def init(lock, started):
    global LOCK, STARTED
    LOCK, STARTED = lock, started
def task(i):
    with STARTED.get_lock():
        STARTED.value += 1
    if MODE == "blocked":
        with LOCK:
            pass
    elif MODE == "half" and i % 2 == 0:
        while True:
            pass
    elif MODE == "bursty" and i % 2 == 0:
        while True:
            time.sleep(0.01)
            x = 0
            for _ in range(300):
                x += 1
    time.sleep(3600)
if __name__ == "__main__":
    lock = mp.Lock()
    if MODE == "blocked":
        lock.acquire()
    started = mp.Value("i", 0)
    pool = mp.Pool(WORKERS, initializer=init, initargs=(lock, started))
    result = pool.map_async(task, range(WORKERS), chunksize=1)
    while started.value < WORKERS:  # every worker has taken its task (chunksize 1: one each)
        time.sleep(0.05)
    with open(OUT + ".tmp", "w") as f:
        json.dump([os.getpid()] + [c.pid for c in mp.active_children()], f)
    os.rename(OUT + ".tmp", OUT)
    result.wait()
"""


def installed(work: Path) -> str:
    """pooltui built as a wheel and installed into a fresh venv: the console script's path."""
    wheels, venv = work / "dist", work / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *map(str, wheels.glob("*.whl"))], check=True)
    return str(venv / "bin" / "pooltui")


def timed(cmd: list[str] | str) -> tuple[float, float]:
    """Wall and CPU seconds (the command and all its children)."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def series(python: str, pyspy: str, tools: list[str], mode: str, workers: int, rounds: int, work: Path) -> dict:
    script, out = work / "hidden_pool.py", work / f"pids-{mode}-{workers}.json"
    script.write_text(POOL)
    out.unlink(missing_ok=True)
    pool = subprocess.Popen([python, str(script), mode, str(out), str(workers)])
    try:
        while not out.exists():
            if pool.poll() is not None:
                raise SystemExit(f"the pool script exited with {pool.returncode}")
            time.sleep(0.1)
        pids = json.loads(out.read_text())
        loop = f"for p in {' '.join(map(str, pids))}; do {shlex.quote(pyspy)} dump --pid $p --json; done > /dev/null"
        rows: dict[str, list[tuple[float, float, float]]] = {tool: [] for tool in tools}
        loops: list[tuple[float, float]] = []
        load = os.getloadavg()[0]
        for n in range(rounds):
            loops.append(timed(loop))
            for tool in tools if n % 2 == 0 else tools[::-1]:
                wall, cpu = timed([tool, "snapshot", str(pids[0]), "-o", str(work / "r.json"), "--format", "json"])
                rows[tool].append((wall, cpu, wall / loops[-1][0]))
    finally:
        subprocess.run(["pkill", "-9", "-P", str(pool.pid)])
        pool.kill()
        pool.wait()
    result = {
        "mode": mode,
        "processes": len(pids),
        "loop_wall": statistics.median(w for w, _ in loops),
        "loop_cpu": statistics.median(c for _, c in loops),
        "load": [load, os.getloadavg()[0]],
    }
    result["tools"] = {
        tool: {
            "wall": statistics.median(r[0] for r in got),
            "cpu": statistics.median(r[1] for r in got),
            "ratio": statistics.median(r[2] for r in got),
            "ratio_range": [min(r[2] for r in got), max(r[2] for r in got)],
        }
        for tool, got in rows.items()
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=str(Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions/3.11.7/bin/python"))
    parser.add_argument("--modes", nargs="+", default=["idle", "bursty", "half", "blocked"])
    parser.add_argument("--workers", nargs="+", type=int, default=[64])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pooltui", action="append", default=[], help="an installed pooltui to time beside the wheel built here")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pooltui-outside-") as tmp:
        work = Path(tmp)
        tools = [installed(work), *args.pooltui]
        pyspy = str(Path(tools[0]).parent / "py-spy")
        results = []
        for workers in args.workers:
            for mode in args.modes:
                r = series(args.python, pyspy, tools, mode, workers, args.rounds, work)
                results.append(r)
                print(
                    f"{mode} Pool({workers}), {r['processes']} processes, load {r['load'][0]:.1f}-{r['load'][1]:.1f}: "
                    f"py-spy loop {r['loop_wall']:.3f} s wall, {r['loop_cpu']:.3f} s CPU"
                )
                for tool, t in r["tools"].items():
                    name = "this wheel" if tool == tools[0] else tool
                    print(
                        f"  {name}: {t['wall']:.3f} s wall, {t['cpu']:.3f} s CPU, {t['ratio']:.2f}x the loop "
                        f"({t['ratio_range'][0]:.2f}-{t['ratio_range'][1]:.2f})",
                        flush=True,
                    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
