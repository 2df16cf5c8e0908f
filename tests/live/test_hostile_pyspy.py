"""py-spy's output and process are bounded too (issue 14 items 7b and 14): a flood of
output is cut at a cap with a clear per-process error, and a py-spy (or a wrapper around
it) that forks cannot hold `--timeout` off: its whole process group is killed. These are
py-spy's paths: stacks read directly (capture.direct) are off (POOLTUI_DIRECT=0)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

import pytest

from pooltui.capture.pyspy import find_pyspy
from tests.live.test_bad_input import assert_clean_failure, fake_pyspy, python_with_child, run  # noqa: F401 (a fixture)

pytestmark = pytest.mark.live


# runs the command given and adds, on stderr's last line, the peak RSS of it and the children
# it reaped (a fresh process: its RUSAGE_CHILDREN is that command's alone)
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "sys.stderr.write('\\npeak-rss-kib %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def _run_measured(*args: str, env: dict, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """``run``, and the peak RSS (MiB) of that pooltui process and the children it reaped
    alone -- not this test process's ``RUSAGE_CHILDREN``, whose peak is the largest child it
    ever reaped: another test's, on the same xdist worker, read 712 MiB in a CI run."""
    out = run(*args, env=env, timeout=timeout, wrapper=(sys.executable, "-c", _MEASURE))
    err, _, last = out.stderr.rstrip("\n").rpartition("\n")
    assert last.startswith("peak-rss-kib "), out.stderr[-2000:]
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout, err), int(last.split()[1]) / 1024


def test_a_flood_of_pyspy_output_is_cut_with_a_clear_error(python_with_child, tmp_path):  # noqa: F811
    parent, _ = python_with_child
    flood = fake_pyspy(tmp_path, "printf '['; head -c 300000000 /dev/zero | tr '\\0' ' '\n")
    out, peak = _run_measured("snapshot", str(parent), "--timeout", "30", env={"POOLTUI_PYSPY": str(flood), "POOLTUI_DIRECT": "0"}, timeout=120)
    assert_clean_failure(out, 3, "py-spy printed more than 16 MiB for process")
    assert peak < 600  # the pooltui process that read the flood stayed small


def test_a_forking_pyspy_wrapper_does_not_defeat_the_timeout(python_with_child, tmp_path):  # noqa: F811
    parent, _ = python_with_child
    marker = tmp_path / "grandchild"
    # the wrapper forks a child that keeps stdout open, then waits for it
    wrapper = fake_pyspy(tmp_path, f"sleep 600 &\necho $! > {marker}.tmp && mv {marker}.tmp {marker}\nwait\n")
    started = time.monotonic()
    out = run("snapshot", str(parent), "--timeout", "2", env={"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": "0"}, timeout=120)
    assert time.monotonic() - started < 60
    assert_clean_failure(out, 3, "did not answer within 2 s")
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{grandchild}") and time.monotonic() < deadline:
        with open(f"/proc/{grandchild}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "Z":
                break  # killed; its reaper (init) just has not collected it yet
        time.sleep(0.05)
    else:
        assert not os.path.exists(f"/proc/{grandchild}"), "the wrapper's child still runs after the timeout"


def test_a_wrapper_that_double_forks_out_of_the_group_cannot_hang_the_capture(python_with_child, tmp_path):  # noqa: F811
    """A child that leaves py-spy's session (setsid) keeps the pipe open forever: the
    capture still ends at the timeout (that escaped child is not pooltui's to kill)."""
    parent, _ = python_with_child
    marker = tmp_path / "escaped"
    wrapper = fake_pyspy(tmp_path, f"setsid sh -c 'echo $$ > {marker}; exec sleep 30' &\nwait\n")
    started = time.monotonic()
    out = run("snapshot", str(parent), "--timeout", "2", env={"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": "0"}, timeout=120)
    assert time.monotonic() - started < 25
    assert_clean_failure(out, 3, "did not answer within 2 s")
    if marker.exists():
        subprocess.run(["kill", marker.read_text().strip()], check=False)


def _failing_first_read(tmp_path, error: str, only: int = 0):
    """A py-spy whose first read of each pid (of ``only``, if given) fails with ``error``
    (leaving tmp_path/failed-PID), then the real one."""
    which = f'[ "$3" = {only} ] && ' if only else ""
    return fake_pyspy(
        tmp_path,
        f"if {which}mkdir {tmp_path}/failed-$3 2>/dev/null; then echo 'Error: {error}' >&2; exit 1; fi\nexec {shlex.quote(find_pyspy())} \"$@\"\n",
    )


def test_a_python_process_py_spy_misses_once_is_read_again(python_with_child, tmp_path):  # noqa: F811
    """py-spy's "Failed to find a python interpreter in the .data section" comes and goes (a
    crash-looping pool's parent, forking): read again, never "not a Python process" (exit 3)."""
    parent, child = python_with_child
    wrapper = _failing_first_read(tmp_path, "Failed to find a python interpreter in the .data section")
    out = run("snapshot", str(parent), "--format", "json", env={"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": "0"}, timeout=120)
    assert out.returncode == 0, out.stderr
    processes = {p["pid"]: p for p in json.loads(out.stdout)["snapshot"]["processes"]}
    assert {parent, child} <= set(processes) and all(processes[pid]["threads"] and not processes[pid]["error"] for pid in (parent, child)), processes
    assert (tmp_path / f"failed-{parent}").is_dir() and (tmp_path / f"failed-{child}").is_dir()  # each failed once first


def test_a_python_child_py_spy_calls_not_python_once_is_read_again(python_with_child, tmp_path):  # noqa: F811
    """A child of a Python process, of the same program, that py-spy once says is not Python
    ("Failed to find python version", a fact it does not retry) is read once more before it
    is called unreadable or broken by its fork: a healthy hot-lock worker was once called so."""
    parent, child = python_with_child
    wrapper = _failing_first_read(tmp_path, "Failed to find python version from target process", only=child)
    out = run("snapshot", str(parent), "--format", "json", env={"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": "0"}, timeout=120)
    assert out.returncode == 0, out.stderr
    processes = {p["pid"]: p for p in json.loads(out.stdout)["snapshot"]["processes"]}
    assert (tmp_path / f"failed-{child}").is_dir()  # the first read of the child failed
    assert processes[child]["threads"] and not processes[child]["error"], processes[child]


@pytest.mark.parametrize("direct", ["0", "1"])
def test_an_unpaused_read_that_fails_is_read_paused(python_with_child, tmp_path, direct):  # noqa: F811
    """A process asleep is read without pausing it (and a binary's direct reads are checked
    against such a read); when threads move under py-spy that read fails (its interpreter
    search walks a stack that changed): a hot worker was once called unreadable so. The
    wrapper fails every --nonblocking read the way py-spy does then: each process is read
    paused instead, never unreadable."""
    parent, child = python_with_child
    wrapper = fake_pyspy(
        tmp_path,
        'case " $* " in *" --nonblocking "*) echo "Error: Failed to find a python interpreter in the .data section" >&2; exit 1;; esac\n'
        f'exec {shlex.quote(find_pyspy())} "$@"\n',
    )
    env = {"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": direct, "POOLTUI_CACHE_DIR": str(tmp_path / "records")}
    out = run("snapshot", str(parent), "--format", "json", env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    processes = {p["pid"]: p for p in json.loads(out.stdout)["snapshot"]["processes"]}
    assert all(processes[pid]["threads"] and not processes[pid]["error"] for pid in (parent, child)), processes
