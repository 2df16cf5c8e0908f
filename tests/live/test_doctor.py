"""`pooltui doctor [PID]` against real processes, through the real entry point.

Run as root here (CI and the dev box): py-spy may read any process, so a Python
target gives exit 0. A non-root run shows, for example (ptrace_scope=1, Ubuntu's
default):
    ! not root (uid 1000), no CAP_SYS_PTRACE: only your own processes can be read — fix: run as root: sudo pooltui ...
    ✘ ptrace_scope=1: restricted ptrace: only a process's ancestors may read it, ... — fix: run as root: sudo pooltui ...
    ✘ pid N: py-spy cannot read it: py-spy may not read process N: Permission denied ...
and exits 3; with ptrace_scope=0 the same user's processes are read and it exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

pytestmark = pytest.mark.live

POOLTUI = [sys.executable, "-m", "pooltui.cli"]
# signals a target could catch: doctor must send none of them (py-spy's ptrace pause is not a signal it sees)
WATCHED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGCONT", "SIGALRM", "SIGQUIT")


def doctor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*POOLTUI, "doctor", *args], capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONIOENCODING="utf-8"))


@pytest.fixture
def python_target(tmp_path):
    """A Python process with one Python child; it records every catchable signal it gets.
    Ready when it prints its child's pid; answers "signals?" on stdin with what it got."""
    script = tmp_path / "target.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import signal, subprocess, sys
            got = []
            for name in {WATCHED!r}:
                signal.signal(getattr(signal, name), lambda n, f: got.append(signal.Signals(n).name))
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            print(child.pid, flush=True)
            for line in sys.stdin:
                print(",".join(got) or "none", flush=True)
            child.kill()
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None and proc.stdin is not None
    child = int(proc.stdout.readline())

    def signals_received() -> str:
        proc.stdin.write("signals?\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    yield proc.pid, child, signals_received
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_python_target(python_target):
    pid, child, signals_received = python_target
    out = doctor(str(pid))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("✔ py-spy "), lines[0]
    assert any("CAP_SYS_PTRACE" in line for line in lines)
    assert any("ptrace_scope" in line for line in lines)
    assert any(line.startswith(f"✔ pid {pid}: Python {sys.version_info[0]}.{sys.version_info[1]}") for line in lines), lines
    assert any(line.startswith(f"✔ pid {pid}: py-spy read ") and line.endswith(" ms") for line in lines), lines
    assert any(line.startswith(f"✔ child {child}: py-spy read 1 Python thread(s) in ") for line in lines), lines
    assert not any(line.startswith("✘") for line in lines)
    assert lines[-1] == f"pooltui can attach to pid {pid}: 2 Python process(es) read"
    # read-only: the target is as it was, running, and got no signal
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED
    assert signals_received() == "none"


def test_without_pid_checks_this_machine():
    out = doctor()
    assert out.returncode == 0, out.stdout  # root with CAP_SYS_PTRACE here
    assert "py-spy" in out.stdout and "ptrace_scope" in out.stdout and "container" in out.stdout
    assert "give a PID to try a real dump" in out.stdout


def test_non_python_process():
    proc = subprocess.Popen(["sleep", "600"])
    try:
        out = doctor(str(proc.pid))
        assert out.returncode == 3, out.stdout
        assert f"✘ pid {proc.pid} is not Python (sleep 600)" in out.stdout
        assert "fix: give the pid of a Python process" in out.stdout
        assert out.stdout.splitlines()[-1].startswith("pooltui cannot attach")
    finally:
        proc.kill()
        proc.wait()


def test_nonexistent_pid():
    out = doctor("4194000")
    assert out.returncode == 3
    assert "✘ no process with pid 4194000" in out.stdout
    assert "Traceback" not in out.stderr


def test_a_process_another_user_may_not_read_is_not_called_not_python():
    """doctor run as an unprivileged user against root's Python process: it cannot tell
    whether it is Python (the maps file's mode says readable; the kernel refuses at open),
    which is not "not Python"."""
    from pooltui import doctor as doctor_module

    target = subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    read, write = os.pipe()
    try:
        assert target.stdout is not None and target.stdout.readline() == b"\n"
        child = os.fork()
        if child == 0:  # as nobody, as a user without root's rights would run doctor
            try:
                os.setgid(65534)
                os.setuid(65534)
                check, _ = doctor_module._identify("pid", psutil.Process(target.pid))
                os.write(write, f"{check.status} {check.text}".encode())
            finally:
                os._exit(0)
        os.close(write)
        said = b""
        while chunk := os.read(read, 4096):
            said += chunk
        os.waitpid(child, 0)
    finally:
        os.close(read)
        target.kill()
        target.wait()
    assert "cannot tell whether it is Python (no permission" in said.decode(), said
