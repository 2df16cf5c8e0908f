"""Whole-command measurements for scripts/bench.py: what a user times.

``pooltui snapshot ROOT -o r.json --format json`` as a new process against the serial
loop ``for p in PIDS; do py-spy dump --pid $p --json; done`` over the same pids, run
alternately in one series (the machine may be shared: each round's ratio compares two
runs seconds apart), plus the CPU time of each (this process's children: the command
and every py-spy it ran). Modules are compiled beforehand, as an installed pooltui's are.
Also the one-process command and ``pooltui --version``.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

from pooltui.capture import pyspy

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300.0


def compile_modules() -> None:
    """Write the .pyc files an installed pooltui has (PYTHONDONTWRITEBYTECODE would make
    every measured command compile its modules again)."""
    compileall.compile_dir(str(ROOT / "pooltui"), quiet=1)


def pooltui_cmd(*args: str) -> list[str]:
    """The console script a user runs (beside this Python), else ``python -m pooltui``."""
    script = Path(sys.executable).parent / "pooltui"
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "pooltui", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(cmd: list[str], shell: bool = False) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (the command and all its children) and exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd if not shell else cmd[0], shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT, env=_env())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def serial_loop(pids: list[int]) -> list[str]:
    exe = shlex.quote(pyspy.find_pyspy())
    return [f"for p in {' '.join(str(p) for p in pids)}; do {exe} dump --pid $p --json; done > /dev/null"]


def in_process_timed(capture: Callable[[], float]) -> tuple[float, float, int, float]:
    """``capture()`` (pooltui's capture in this warm process, returning its seconds) as a
    ``timed`` row -- wall, CPU (this process's own plus its py-spy children's) -- and its
    own CPU alone."""
    before_own, before_children = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = capture()
    own = time.process_time() - before_own
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (after.ru_utime - before_children.ru_utime) + (after.ru_stime - before_children.ru_stime)
    return wall, own + children, 0, own


def alternated(order: list[tuple[str, Callable[[], tuple[float, ...]]]], rounds: int) -> dict[str, list[tuple[float, ...]]]:
    """Each run of ``order`` once a round for ``rounds`` rounds, which goes first rotating
    (the machine is shared: each round compares runs seconds apart): every run's results."""
    runs: dict[str, list[tuple[float, ...]]] = {name: [] for name, _ in order}
    for n in range(rounds):
        k = n % len(order)
        for name, run in order[k:] + order[:k]:
            runs[name].append(run())
    return runs


def whole_command(root: int, pids: list[int], rounds: int, in_process: Callable[[], float]) -> dict[str, Any]:
    """``rounds`` alternations of pooltui snapshot, the py-spy loop and ``in_process()``
    (pooltui's capture in this warm process: seconds); which goes first rotates. Medians,
    and the median of the per-round ratios; CPU is user + system of the command and every
    process it ran; the load average before and after the series (the machine is shared)."""
    out = tempfile.mkdtemp(prefix="pooltui-bench-")
    report = os.path.join(out, "r.json")
    snap = pooltui_cmd("snapshot", str(root), "-o", report, "--format", "json")
    subprocesses = [pyspy.find_pyspy(), "dump", "--pid", str(root), "--subprocesses"]
    load_before = os.getloadavg()[0]
    runs = alternated(
        [
            ("pooltui", lambda: timed(snap)),
            ("loop", lambda: timed(serial_loop(pids), shell=True)),
            ("in_process", lambda: in_process_timed(in_process)),
            ("subprocesses", lambda: timed(subprocesses)),
        ],
        rounds,
    )
    try:
        size = os.path.getsize(report)
        os.unlink(report)
        os.rmdir(out)
    except OSError:
        size = 0
    ratios = [p[0] / q[0] for p, q in zip(runs["pooltui"], runs["loop"])]
    med = statistics.median
    return {
        "load": [load_before, os.getloadavg()[0]],
        "in_process_cpu": med(r[1] for r in runs["in_process"]),
        "in_process_own_cpu": med(r[3] for r in runs["in_process"]),
        "rounds": rounds,
        "pooltui": med(r[0] for r in runs["pooltui"]),
        "loop": med(r[0] for r in runs["loop"]),
        "in_process": med(r[0] for r in runs["in_process"]),
        "in_process_ratio": med(i[0] / q[0] for i, q in zip(runs["in_process"], runs["loop"])),
        "ratio": med(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "pooltui_cpu": med(r[1] for r in runs["pooltui"]),
        "loop_cpu": med(r[1] for r in runs["loop"]),
        # one py-spy walking the tree (text only: its --json stops after the root) parses each
        # child's interpreter again: its CPU per process is the loop's
        "subprocesses": med(r[0] for r in runs["subprocesses"]),
        "subprocesses_cpu": med(r[1] for r in runs["subprocesses"]),
        "exit_codes": sorted({r[2] for r in runs["pooltui"]}),
        "report_bytes": size,
    }


@contextlib.contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` busy loops (``python -c 'while True: pass'``, the bench's own nice level) for
    the measurements inside: a box whose CPUs all run other work. Stopped on the way out."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(count)]
    try:
        time.sleep(1.0)  # every loop running, not starting: an interpreter start is work too
        yield
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()


def growth_row(root: int, pids: list[int], rounds: int) -> dict[str, Any]:
    """One tree size of the growth table: ``rounds`` alternations of the command and the
    loop (no in-process capture: at 1,000 processes it is the command's own cost again)."""
    out = tempfile.mkdtemp(prefix="pooltui-bench-")
    report = os.path.join(out, "r.json")
    snap = pooltui_cmd("snapshot", str(root), "-o", report, "--format", "json")
    load_before = os.getloadavg()[0]
    runs = alternated([("pooltui", lambda: timed(snap)), ("loop", lambda: timed(serial_loop(pids), shell=True))], rounds)
    with contextlib.suppress(OSError):
        os.unlink(report)
        os.rmdir(out)
    med = statistics.median
    return {
        "processes": len(pids),
        "rounds": rounds,
        "load": [load_before, os.getloadavg()[0]],
        "pooltui": med(r[0] for r in runs["pooltui"]),
        "pooltui_cpu": med(r[1] for r in runs["pooltui"]),
        "loop": med(r[0] for r in runs["loop"]),
        "loop_cpu": med(r[1] for r in runs["loop"]),
        "ratio": med(p[0] / q[0] for p, q in zip(runs["pooltui"], runs["loop"])),
        "exit_codes": sorted({r[2] for r in runs["pooltui"]}),
    }


def one_process(pid: int, rounds: int) -> dict[str, float]:
    """``pooltui snapshot PID`` of a lone process, one ``py-spy dump`` of it, ``pooltui --version``: medians."""
    report = os.path.join(tempfile.mkdtemp(prefix="pooltui-bench-"), "one.json")
    snap, dump, version = [], [], []
    for _ in range(rounds):
        snap.append(timed(pooltui_cmd("snapshot", str(pid), "-o", report, "--format", "json"))[0])
        dump.append(timed([pyspy.find_pyspy(), "dump", "--pid", str(pid), "--json"])[0])
        version.append(timed(pooltui_cmd("--version"))[0])
    os.unlink(report)
    os.rmdir(os.path.dirname(report))
    med = statistics.median
    return {"rounds": rounds, "snapshot": med(snap), "pyspy_dump": med(dump), "version": med(version)}


def lone_python() -> subprocess.Popen[bytes]:
    """A Python process asleep in time.sleep, for the one-process command."""
    return subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(3600)"], stdout=subprocess.PIPE)
