"""Cron and systemd close stdout or stderr (issue 23 item 3): `pooltui snapshot` with either
or both closed never prints a traceback and exits exactly as DESIGN says — 0 ok, 1 an
error verdict found, 2 usage (a report asked for on a closed stdout), 3 cannot attach —
and a message meant for a closed stderr never lands in the report on stdout.

Real processes close the descriptors (``sh -c 'exec pooltui … >&-'``); the entry point is
the installed ``pooltui`` script (``cli.run``) and, once, ``python -m pooltui.cli``."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import interpreter_params

pytestmark = pytest.mark.live

SCRIPT = str(Path(sys.executable).with_name("pooltui"))
OK, ERROR, GONE = "ok", "error verdict", "bad pid"


@pytest.fixture(scope="module")
def targets():  # type: ignore[no-untyped-def]
    """pid by kind: a sleeping Python process (no verdict), an ABBA deadlock (an error
    verdict), and the pid of a process that was reaped (cannot attach)."""
    from pooltui import scenarios

    python = next((p.values[0] for p in interpreter_params(("3.11", "3.12", "3.13", "3.10")) if p.values[0]), None)
    if python is None:
        pytest.skip("no Python 3.10+ interpreter to run the targets")
    sleeper = subprocess.Popen([python, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    assert sleeper.stdout is not None and sleeper.stdout.readline() == b"\n"
    abba = scenarios.start("abba", python, timeout=60)
    reaped = subprocess.Popen(["true"])
    reaped.wait()
    try:
        yield {OK: sleeper.pid, ERROR: abba.pid, GONE: reaped.pid}
    finally:
        sleeper.kill()
        sleeper.wait()
        abba.stop()


def _run(command: list[str], redirect: str) -> subprocess.CompletedProcess:
    shell = "exec " + " ".join(shlex.quote(word) for word in command) + " " + redirect
    return subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=300)


# (redirect, kind) -> exit code: a report on a closed stdout cannot be delivered (2, said on
# stderr); the capture fails first for a bad pid (3)
CASES = {
    (">&-", OK): 2,
    (">&-", ERROR): 2,
    (">&-", GONE): 3,
    ("2>&-", OK): 0,
    ("2>&-", ERROR): 1,
    ("2>&-", GONE): 3,
    (">&- 2>&-", OK): 2,
    (">&- 2>&-", ERROR): 2,
    (">&- 2>&-", GONE): 3,
}


@pytest.mark.parametrize("redirect,kind", list(CASES), ids=[f"{r}-{k}" for r, k in CASES])
def test_a_closed_stream_changes_no_exit_code_and_prints_no_traceback(targets, redirect, kind):
    out = _run([SCRIPT, "snapshot", str(targets[kind])], redirect)
    assert out.returncode == CASES[redirect, kind], (out.returncode, out.stdout[-500:], out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    if redirect == "2>&-":
        # what was meant for stderr went nowhere, not into the report
        assert "pooltui:" not in out.stdout
        assert out.stdout.startswith("# pooltui report") if kind != GONE else out.stdout == ""
    if redirect == ">&-":
        assert len(out.stderr.splitlines()) == 1, out.stderr
        assert ("stdout is closed" in out.stderr) if kind != GONE else ("no process" in out.stderr or "gone" in out.stderr)


@pytest.mark.parametrize("redirect", [">&-", ">&- 2>&-"])
@pytest.mark.parametrize("kind", [OK, ERROR])
def test_a_report_to_a_file_with_stdout_closed_is_written_and_exits_by_its_verdict(targets, tmp_path, redirect, kind):
    report = tmp_path / "r.json"
    out = _run([SCRIPT, "snapshot", str(targets[kind]), "-o", str(report)], redirect)
    assert out.returncode == (0 if kind == OK else 1), out.stderr
    assert "Traceback" not in out.stderr
    assert report.read_text().startswith("{")


def test_python_dash_m_has_the_same_exit_codes(targets):
    out = _run([sys.executable, "-m", "pooltui.cli", "snapshot", str(targets[ERROR])], "2>&-")
    assert out.returncode == 1 and out.stdout.startswith("# pooltui report")
    out = _run([sys.executable, "-m", "pooltui.cli", "snapshot", str(targets[GONE])], ">&- 2>&-")
    assert out.returncode == 3


def test_doctor_with_stdout_closed_is_no_traceback():
    out = _run([SCRIPT, "doctor"], ">&-")
    assert "Traceback" not in out.stderr and out.returncode == 2, out.stderr
