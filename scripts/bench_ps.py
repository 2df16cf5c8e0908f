#!/usr/bin/env python3
"""How fast `pooltui ps` is on a box with ~300 Python processes (a measurement, not a test).

Starts POOLS demo pools (demo/pool_size.py, idle or blocked, WORKERS workers each, on every
interpreter installed among 2.7 and 3.8-3.13, and a few hung scenarios) plus LONE unrelated
lone Python processes (tests/targets/census_extras.py sleeper, as record_census.py starts them), waits for each one's
readiness, then times:

  * the whole command a user runs, ``pooltui ps`` (a new process; modules compiled), ROUNDS times;
  * in this process: the first pass over /proc, the window and the second read
    (``take_census``), the trees and verdicts (``analysis.census.trees``), the table.

It prints one Markdown table, and with ``--json PATH`` writes the numbers. The target is
"as fast as ps feels": under 2 s for the whole command with 300 Python processes.

    .venv/bin/python scripts/bench_ps.py [--pools 20] [--workers 12] [--lone 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_command import compile_modules, pooltui_cmd  # noqa: E402
from record_census import start_lone  # noqa: E402

from pooltui import scenarios  # noqa: E402
from pooltui.analysis.census import trees  # noqa: E402
from pooltui.capture.census import take_census  # noqa: E402
from pooltui.report.census import render_text  # noqa: E402

VERSIONS = ("2.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
HUNG = ("logging_fork", "dead_holder", "mp_abba")  # a few pools that look hung among the idle ones


def start_all(pools: int, workers: int, lone: int) -> tuple[list, list]:
    pythons = [p for p in (scenarios.find_python(v) for v in VERSIONS) if p]
    demos, sleepers = [], []
    for i in range(pools):
        python = pythons[i % len(pythons)]
        if i < len(HUNG):
            demos.append(scenarios.start(HUNG[i], python, timeout=120))
        else:
            mode = "blocked" if i % 2 else "idle"
            demos.append(scenarios.start("pool_size", python, args=("--workers", str(workers), "--mode", mode), timeout=120))
    for i in range(lone):
        sleepers.append(start_lone("sleeper", pythons[i % len(pythons)]))
    return demos, sleepers


def measure(rounds: int) -> dict:
    compile_modules()
    whole, cpu = [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(pooltui_cmd("ps"), stdout=subprocess.DEVNULL, check=True)
        whole.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # its own CPU time: what the command costs whatever the load (the wall time is its share of busy CPUs)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    phases: dict[str, list[float]] = {"census": [], "window": [], "analysis": [], "table": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        census = take_census()
        t1 = time.perf_counter()
        rows = trees(census)
        t2 = time.perf_counter()
        render_text(rows, census)
        t3 = time.perf_counter()
        phases["census"].append(t1 - t0)
        phases["window"].append(census.window)
        phases["analysis"].append(t2 - t1)
        phases["table"].append(t3 - t2)
    return {
        "python_processes": len(census.processes),
        "trees": len(rows),
        "hung": sum(1 for t in rows if t.hung),
        "processes_on_box": sum(1 for name in os.listdir("/proc") if name.isdigit()),
        "cpus": census.cpus,
        "load_average": os.getloadavg(),
        "whole_command": whole,
        "whole_command_cpu": cpu,
        **phases,
    }


def table(result: dict) -> str:
    def row(name: str, values: list[float]) -> str:
        return f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"

    head = (
        f"`pooltui ps`: {result['python_processes']} Python processes in {result['trees']} trees "
        f"({result['hung']} look hung) of {result['processes_on_box']} processes, {result['cpus']} CPUs, "
        f"load average {result['load_average'][0]:.1f}\n\n| seconds | median | min | max |\n|---|---|---|---|"
    )
    names = {
        "whole_command": "whole command (new process)",
        "whole_command_cpu": "its CPU time (user + system)",
        "census": "take_census (in process)",
        "window": "of which the window",
        "analysis": "trees + verdicts",
        "table": "text table",
    }
    return "\n".join([head, *(row(label, result[key]) for key, label in names.items())])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=20)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--lone", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    demos, sleepers = start_all(args.pools, args.workers, args.lone)
    try:
        result = measure(args.rounds)
    finally:
        for demo in demos:
            demo.stop()
        for proc in sleepers:
            proc.kill()
            proc.wait()
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
