"""Bad input from the command line: a clear one-line error, the right exit code, no
traceback, nothing lost. Each case runs the real `pooltui` entry point against a real
process (malformed pids and broken reports need none: tests/unit/test_cli_input.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

POOLTUI = [sys.executable, "-m", "pooltui.cli"]


def run(*args: str, env: dict | None = None, timeout: float = 60, wrapper: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``pooltui ARGS`` (``wrapper``: run by that command)."""
    return subprocess.run([*wrapper, *POOLTUI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def assert_clean_failure(out: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr
    assert words in out.stderr, out.stderr


def assert_one_line(out: subprocess.CompletedProcess) -> None:
    """A pid that is wrong for good: its one line, no hint that does not apply ("the rest of the tree")."""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "rest of the tree" not in out.stderr and "shown for the tree" not in out.stderr, out.stderr


def fake_pyspy(folder: Path, script: str, mode: int = 0o755) -> Path:
    """A shell script standing in for py-spy (hanging, printing garbage, not executable...)."""
    path = folder / "py-spy"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(mode)
    return path


@pytest.fixture
def python_with_child(tmp_path):
    """A Python process with one Python child, both ready before the test goes on."""
    script = tmp_path / "parent.py"
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    script.write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            with open({str(fifo)!r}, "w") as f:
                f.write(str(child.pid) + "\\n")
            time.sleep(600)
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    with open(fifo) as f:
        child = int(f.readline())
    yield proc.pid, child
    os.killpg(proc.pid, 9)
    proc.wait()


def test_nonexistent_pid():
    out = run("snapshot", "4194000")
    assert_clean_failure(out, 3, "no process with pid 4194000")
    assert_one_line(out)


def test_non_python_process():
    proc = subprocess.Popen(["sleep", "600"])
    try:
        out = run("snapshot", str(proc.pid))
        assert_clean_failure(out, 3, "not a Python process")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("python", "words"), [("3.99", "no Python 3.99 that can run healthy"), ("/nonexistent/python", "not an executable file")])
def test_demo_with_an_interpreter_that_is_not_there(python, words):
    out = run("demo", "healthy", "--python", python, "--print")
    assert_clean_failure(out, 2, words)


def test_pyspy_missing(python_with_child):
    parent, _ = python_with_child
    out = run("snapshot", str(parent), env={"POOLTUI_PYSPY": "/nonexistent/py-spy"})
    assert_clean_failure(out, 3, "py-spy")


def test_pyspy_hanging_times_out(python_with_child, tmp_path):
    parent, _ = python_with_child
    hang = fake_pyspy(tmp_path, "exec sleep 600\n")
    out = run("snapshot", str(parent), "--timeout", "1", env={"POOLTUI_PYSPY": str(hang)}, timeout=30)
    assert_clean_failure(out, 3, "did not answer within 1 s")


def test_a_cancelled_dump_stops_its_pyspy(tmp_path):
    """A refresh replaced by a newer one (the TUI's exclusive worker) leaves no py-spy behind."""
    import asyncio

    from pooltui.capture import pyspy

    marker = tmp_path / "pid"
    hang = fake_pyspy(tmp_path, f"echo $$ > {marker}.tmp && mv {marker}.tmp {marker}\nexec sleep 600\n")

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(pyspy.dump(os.getpid(), pyspy.DumpOptions(timeout=60), str(hang)))
        while not marker.exists():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{child}"), "py-spy still runs (or was never reaped) after its dump was cancelled"


def test_pyspy_printing_garbage(python_with_child, tmp_path):
    parent, _ = python_with_child
    fake = fake_pyspy(tmp_path, 'echo \'[{"thread_id": 1, "frames": [\'\n')
    out = run("snapshot", str(parent), env={"POOLTUI_PYSPY": str(fake)})
    assert_clean_failure(out, 3, "not JSON")


def test_process_exiting_during_capture_leaves_the_rest_complete(python_with_child, tmp_path):
    """The child is killed (by this test's py-spy wrapper, not by pooltui) after the tree
    walk saw it and before its dump: it becomes a 'gone' process, the parent is complete.
    py-spy's dump, so direct reads are off (the same for a direct read: test_direct.py)."""
    parent, child = python_with_child
    real = subprocess.run(
        [sys.executable, "-c", "from pooltui.capture.pyspy import find_pyspy; print(find_pyspy())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    wait_dead = f'while grep -q "^State:[[:space:]]*[RSD]" /proc/{child}/status 2>/dev/null; do :; done'
    wrapper = fake_pyspy(tmp_path, f'if [ "$3" = "{child}" ]; then kill -9 {child}; {wait_dead}; fi\nexec {real} "$@"\n')
    out_file = tmp_path / "r.json"
    out = run("snapshot", str(parent), "-o", str(out_file), env={"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": "0"})
    assert out.returncode in (0, 1), out.stderr
    from pooltui.report import load_report

    snap = load_report(out_file).snapshot
    by_pid = {p.pid: p for p in snap.processes}
    assert by_pid[parent].threads, "the parent's stacks must still be there"
    gone = by_pid[child]
    assert gone.error is not None and gone.error.code in ("process_gone", "not_python"), gone.error
    assert gone.error.code == "process_gone"


@pytest.mark.parametrize("where", ["dir", "missing_dir"])
def test_unwritable_output_path(python_with_child, tmp_path, where):
    parent, _ = python_with_child
    target = tmp_path if where == "dir" else tmp_path / "no" / "such" / "r.json"
    out = run("snapshot", str(parent), "-o", str(target))
    assert_clean_failure(out, 2, "cannot write report")


def test_report_is_written_0600(python_with_child, tmp_path):
    parent, _ = python_with_child
    target = tmp_path / "r.json"
    out = run("snapshot", str(parent), "-o", str(target))
    assert out.returncode in (0, 1), out.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert Path(target).read_text().startswith("{")


def test_kernel_thread():
    out = run("snapshot", "2")  # kthreadd
    assert_clean_failure(out, 3, "kernel thread, not a Python process")
    assert_one_line(out)


def test_zombie():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        while Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            pass
        out = run("snapshot", str(pid))
        assert_clean_failure(out, 3, "zombie")
        assert_one_line(out)
    finally:
        os.waitpid(pid, 0)


def test_pyspy_not_executable(python_with_child, tmp_path):
    parent, _ = python_with_child
    fake = fake_pyspy(tmp_path, "", mode=0o644)
    out = run("snapshot", str(parent), env={"POOLTUI_PYSPY": str(fake)})
    assert_clean_failure(out, 3, "is not an executable file")


ROOT_WITH_CHILDREN = """
import subprocess, sys, time
kids = [subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
        for _ in range(int(sys.argv[1]))]
for kid in kids:
    kid.stdout.readline()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("children", [0, 1])
def test_a_root_killed_mid_read_is_said_truly(tmp_path, children):
    """Issue 23 item 5: the root is killed (by this test's py-spy wrapper) when its dump
    starts. With a child still there, the report is written with what was captured; with
    nothing left, the message says the process exited and that no report was written --
    never "the rest of the tree is still shown"."""
    real = subprocess.run(
        [sys.executable, "-c", "from pooltui.capture.pyspy import find_pyspy; print(find_pyspy())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    root = subprocess.Popen([sys.executable, "-c", ROOT_WITH_CHILDREN, str(children)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert root.stdout is not None and root.stdout.readline() == "ready\n"
        kids = [int(k) for k in subprocess.run(["pgrep", "-P", str(root.pid)], capture_output=True, text=True).stdout.split()]
        assert len(kids) == children
        wait_dead = f'while grep -q "^State:[[:space:]]*[RSD]" /proc/{root.pid}/status 2>/dev/null; do :; done'
        wrapper = fake_pyspy(tmp_path, f'if [ "$3" = "{root.pid}" ]; then kill -9 {root.pid}; {wait_dead}; fi\nexec {real} "$@"\n')
        out_file = tmp_path / "r.json"
        out = run("snapshot", str(root.pid), "-o", str(out_file), env={"POOLTUI_PYSPY": str(wrapper), "POOLTUI_DIRECT": "0"})
        assert "Traceback" not in out.stderr and "rest of the tree" not in out.stderr, out.stderr
        if children:
            assert out.returncode in (0, 1), out.stderr
            from pooltui.report import load_report

            snap = load_report(out_file).snapshot
            assert {p.pid for p in snap.processes if p.threads} == set(kids)
        else:
            assert_clean_failure(out, 3, f"process {root.pid}")
            assert "no report was written" in out.stderr and not out_file.exists(), out.stderr
    finally:
        os.killpg(root.pid, 9)
        root.wait()
