"""The false-positive corpus: healthy pools of every kind pooltui supports, read the way a
cron job reads them (`pooltui snapshot PID` and `--samples 5`), must get no warning and no
error -- a false error pages someone at night. Kinds: demo/healthy_corpus.py's header; and
idle gunicorn (sync, gthread), celery (prefork) and uWSGI (prefork, threads) servers, the
framework demos' `--idle` mode, under the interpreters of .demo-venvs/ (`make demo-venvs`).

POOLTUI_CORPUS_REPEAT=N repeats every case N times (the 20-runs-in-a-row check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pooltui import scenarios
from tests import captured
from tests.conftest import interpreter_params

pytestmark = pytest.mark.live

KINDS = (
    "idle",
    "busy",
    "bursty",
    "contended",
    "timer_event",
    "manager",
    "manager_lock",
    "executor",
    "spawn",
    "forkserver",
    "rpc",
    "rpc_stream",
    "waiters",
    "c_tasks",
)
NEEDS_3 = {"executor", "spawn", "forkserver"}
REPEAT = int(os.environ.get("POOLTUI_CORPUS_REPEAT", "1"))
POOLTUI = str(Path(sys.executable).with_name("pooltui"))


def loud(pid: int, *extra: str) -> list[tuple[str, str, str]]:
    """(kind, severity, summary) of every warning or error `pooltui snapshot` reports."""
    out = subprocess.run([POOLTUI, "snapshot", str(pid), "--format", "json", *extra], capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1) and out.stdout.startswith("{"), (out.returncode, out.stdout[:200], out.stderr[-2000:])
    doc = json.loads(out.stdout)
    captured.remember(doc)
    diagnoses = doc["snapshot"]["diagnoses"]
    found = [(d["kind"], d["severity"], d["summary"]) for d in diagnoses if d["severity"] != "info"]
    assert (out.returncode == 1) == any(sev == "error" for _, sev, _ in found)
    return found


@pytest.mark.parametrize("repeat", range(REPEAT))
@pytest.mark.parametrize("python", interpreter_params(("2.7", "3.8", "3.11", "3.13")))
@pytest.mark.parametrize("kind", KINDS)
def test_a_healthy_pool_gets_no_warning_and_no_error(kind, python, repeat, start_demo):
    if kind in NEEDS_3 and "/2.7" in python:
        pytest.skip(f"{kind} needs Python 3")
    demo = start_demo("healthy_corpus", python, "--kind", kind)
    assert loud(demo.pid) == []
    assert loud(demo.pid, "--samples", "5", "--interval", "1") == []


FRAMEWORKS = {  # test id -> (scenario, its arguments): healthy idle servers
    "gunicorn-sync": ("gunicorn_stuck", ("--idle",)),
    "gunicorn-gthread": ("gunicorn_stuck", ("--idle", "--worker-class", "gthread")),
    "celery-prefork": ("celery_hang", ("--idle",)),
    "uwsgi-prefork": ("uwsgi_stuck", ("--idle",)),
    "uwsgi-threads": ("uwsgi_stuck", ("--idle", "--threads", "4")),
}


def _framework_params():
    params = []
    for variant, (scenario, args) in FRAMEWORKS.items():
        for version in ("3.8", "3.11", "3.13"):
            python = scenarios.python_for(scenario, version)
            reason = f"no Python {version} with {scenarios.FRAMEWORKS[scenario]} installed: make demo-venvs"
            marks = [] if python else [pytest.mark.skip(reason=reason)]
            params.append(pytest.param(scenario, args, python, id=f"{variant}-py{version}", marks=marks))
    return params


@pytest.mark.parametrize("repeat", range(REPEAT))
@pytest.mark.parametrize(("scenario", "args", "python"), _framework_params())
def test_an_idle_server_gets_no_warning_and_no_error(scenario, args, python, repeat, start_demo):
    demo = start_demo(scenario, python, *args)
    assert demo.truth["idle"] and demo.truth["worker_pids"]
    assert loud(demo.pid) == []
    assert loud(demo.pid, "--samples", "5", "--interval", "1") == []
