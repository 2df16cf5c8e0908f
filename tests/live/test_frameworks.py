"""Pools as they run in production, live: a gunicorn arbiter with sync and gthread workers,
a uWSGI master with prefork and threaded workers (process titles, or none) and a celery
worker with its prefork (billiard) pool, each with one request / task stuck on an RLock a
background thread holds, and a joblib Parallel (loky) with one hung task. Read through the
same LiveSource `pooltui attach` uses and checked for what a person looks for
(tests/expectations.py): the master's role, each worker's role, idle workers idle (never
"stuck"), the stuck thread with its lock and holder.

The frameworks must be installed in the *target* interpreter: one virtualenv per Python
version under .demo-venvs/ (`make demo-venvs`, or POOLTUI_DEMO_VENVS); a version without
one skips with a reason.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from pooltui import scenarios
from pooltui.analysis.timeline import STUCK_SAMPLES
from pooltui.model import Severity
from pooltui.sources import LiveSource
from tests.conftest import capture
from tests.expectations import FRAMEWORK_CHECKS

pytestmark = pytest.mark.live

VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
VARIANTS = {  # test id -> (scenario, its arguments)
    "gunicorn-sync": ("gunicorn_stuck", ()),
    "gunicorn-gthread": ("gunicorn_stuck", ("--worker-class", "gthread")),
    "celery-prefork": ("celery_hang", ()),
    "joblib-loky": ("joblib_stuck", ()),
    "uwsgi-prefork": ("uwsgi_stuck", ()),
    "uwsgi-threads": ("uwsgi_stuck", ("--threads", "4")),
    "uwsgi-untitled": ("uwsgi_stuck", ("--no-titles",)),
}


def _params():
    params = []
    for variant, (scenario, args) in VARIANTS.items():
        module = scenarios.FRAMEWORKS[scenario]
        for version in VERSIONS:
            python = scenarios.python_for(scenario, version)
            reason = (
                f"no Python {version} with {module} installed: `make test` builds the 3.8, 3.11 and 3.13 venvs only "
                f"(CI's time budget); make demo-venvs builds every version (or {scenarios.demo_venvs()}/py{version} "
                "with pip install 'pooltui[demos]')"
            )
            marks = [] if python else [pytest.mark.skip(reason=reason)]
            params.append(pytest.param(scenario, args, python, id=f"{variant}-py{version}", marks=marks))
    return params


@pytest.mark.parametrize(("scenario", "args", "python"), _params())
def test_framework_live(scenario, args, python, start_demo):
    demo = start_demo(scenario, python, *args)
    version = demo.info["python"].rsplit(".", 1)[0]
    snapshot = capture(demo.pid)
    FRAMEWORK_CHECKS[scenario](snapshot, demo.truth, version)


@pytest.mark.parametrize("scenario", sorted(FRAMEWORK_CHECKS))
def test_attach_to_a_worker_shows_the_whole_server(scenario, start_demo):
    """`pooltui attach WORKER_PID` walks up to the master even though setproctitle (or
    loky's exec) gave master and workers different command lines."""
    python = scenarios.python_for(scenario, "3.11") or scenarios.python_for(scenario)
    if python is None:
        pytest.skip(f"no Python with {scenarios.FRAMEWORKS[scenario]} installed: make demo-venvs")
    demo = start_demo(scenario, python)
    worker = demo.truth["stuck"]["pid"]
    snapshot = capture(worker)
    assert snapshot.root_pid == demo.pid
    assert {p.pid for p in snapshot.processes} >= {demo.pid, *demo.truth["worker_pids"]}


def test_idle_uwsgi_cores_never_read_as_stuck_over_refreshes(start_demo):
    """The verdict that needs several refreshes: the stuck request thread is "stuck"; the idle
    cores (no Python frame, asleep in epoll_wait or on uWSGI's accept mutex) never are, however
    long they wait. The flag-pollers asleep in time.sleep() are, at severity info."""
    python = scenarios.python_for("uwsgi_stuck", "3.11") or scenarios.python_for("uwsgi_stuck")
    if python is None:
        pytest.skip("no Python with uwsgi installed: make demo-venvs")
    demo = start_demo("uwsgi_stuck", python, "--threads", "4")
    source = LiveSource(demo.pid)
    for i in range(STUCK_SAMPLES):
        time.sleep(1.0 if i else 0.0)
        snapshot = asyncio.run(source.capture())
    stuck = {tid: d for d in snapshot.diagnoses if d.kind == "stuck_thread" for tid in d.tids}
    assert stuck[demo.truth["stuck"]["tid"]].severity is Severity.WARNING, snapshot.diagnoses
    pollers = {t.tid for p in snapshot.processes for t in p.threads if t.name == demo.truth["holder"]["name"]}
    assert all(stuck[tid].severity is Severity.INFO for tid in pollers & set(stuck)), snapshot.diagnoses
    assert set(stuck) <= pollers | {demo.truth["stuck"]["tid"]}, snapshot.diagnoses
