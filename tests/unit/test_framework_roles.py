"""Roles and idle detection of pre-fork servers beyond what the recorded scenarios show as
they are: the same real captures (gunicorn, celery, uWSGI; scripts/record_fixtures.py) seen as
they would be when stacks cannot be read (roles from process titles, or from the tree when
master and workers share one command line), and with the app installed in site-packages
(its frames are "library" frames: the stuck worker must still not read as idle).
"""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze
from pooltui.analysis.roles import thread_role
from pooltui.capture import procs
from pooltui.model import ProcError, Snapshot, WaitKind, replace
from tests.conftest import fixture_names, load_fixture

GUNICORN = [n for n in fixture_names("gunicorn_stuck-")]
CELERY = [n for n in fixture_names("celery_hang-")]
UWSGI = [n for n in fixture_names("uwsgi_stuck-")]
NONE = [pytest.param("none", marks=pytest.mark.skip(reason="not recorded (make demo-venvs fixtures)"))]


def _unreadable(s: Snapshot, cmdline=None) -> Snapshot:
    """Every process as py-spy would leave it without ptrace rights (optionally with another command line)."""
    error = ProcError("permission_denied", "no permission to read the process")
    return s.with_(processes=tuple(replace(p, threads=(), error=error, cmdline=cmdline or p.cmdline) for p in s.processes))


@pytest.mark.parametrize("name", GUNICORN or NONE)
def test_gunicorn_roles_from_process_titles(name):
    raw, truth = load_fixture(name)
    assert raw.process(raw.root_pid).cmdline[0].startswith("gunicorn: master")  # recorded with setproctitle
    s = analyze(_unreadable(raw))
    assert s.process(raw.root_pid).role == "gunicorn arbiter"
    assert [s.process(pid).role_label for pid in truth["truth"]["worker_pids"]] == ["gunicorn worker #1", "gunicorn worker #2"]


@pytest.mark.parametrize("name", CELERY or NONE)
def test_celery_roles_from_process_titles(name):
    raw, truth = load_fixture(name)
    s = analyze(_unreadable(raw))
    assert s.process(raw.root_pid).role == "celery main"
    assert {s.process(pid).role for pid in truth["truth"]["worker_pids"]} == {"celery pool worker"}


@pytest.mark.parametrize("name", UWSGI or NONE)
def test_uwsgi_roles_from_process_titles(name):
    raw, truth = load_fixture(name)
    assert raw.process(raw.root_pid).cmdline == ("uWSGI", "master")  # --auto-procname
    s = analyze(_unreadable(raw))
    assert s.process(raw.root_pid).role == "uwsgi master"
    assert [s.process(pid).role_label for pid in truth["truth"]["worker_pids"]] == ["uwsgi worker #1", "uwsgi worker #2", "uwsgi worker #3"]


@pytest.mark.parametrize("name", UWSGI or NONE)
def test_uwsgi_core_0_is_the_main_thread(name):
    """Every uWSGI core's Python thread is named uWSGIWorkerNCoreM, core 0 too: that one is
    the worker's main thread; the other cores (--threads) are request threads of their own."""
    raw, truth = load_fixture(name)
    stuck = truth["truth"]["stuck"]
    core0 = raw.process(stuck["pid"]).thread(stuck["tid"])
    assert core0.name.startswith("uWSGIWorker") and core0.name.endswith("Core0"), core0.name
    assert thread_role(core0, stuck["pid"], "uwsgi worker") == "main thread"
    core2 = replace(core0, tid=stuck["tid"] + 1000, name=core0.name[:-1] + "2")
    assert thread_role(core2, stuck["pid"], "uwsgi worker") == "uwsgi core"


@pytest.mark.parametrize(
    ("cmdline", "master", "worker"),
    [
        (("/srv/app/venv/bin/python", "/srv/app/venv/bin/gunicorn", "app:app", "-w", "2"), "gunicorn arbiter", "gunicorn worker"),
        (("/srv/app/venv/bin/gunicorn", "app:app"), "gunicorn arbiter", "gunicorn worker"),
        (("python3", "-m", "gunicorn", "app:app"), "gunicorn arbiter", "gunicorn worker"),
        (("/usr/bin/uwsgi", "--ini", "/etc/uwsgi/app.ini"), "uwsgi master", "uwsgi worker"),
        (("/srv/venv/bin/celery", "-A", "proj", "worker", "-c", "2"), "celery main", "celery pool worker"),
    ],
)
def test_master_and_workers_from_the_tree_when_they_share_a_command_line(cmdline, master, worker):
    raw, truth = load_fixture((GUNICORN or CELERY or pytest.skip("not recorded"))[0])
    s = analyze(_unreadable(raw, cmdline))
    assert s.process(raw.root_pid).role == master
    assert {s.process(pid).role for pid in truth["truth"]["worker_pids"]} == {worker}


def test_celery_beat_is_not_a_worker():
    raw, _ = load_fixture((CELERY or GUNICORN or pytest.skip("not recorded"))[0])
    s = analyze(_unreadable(raw, ("/srv/venv/bin/celery", "-A", "proj", "beat")))
    assert s.process(raw.root_pid).role != "celery main"


def _as_site_packages(s: Snapshot) -> Snapshot:
    """The scenario's own code installed as a package (its frames become library frames)."""

    def move(f):
        return replace(f, file=f.file.replace("/demo/", "/lib/python3.11/site-packages/myapp/")) if "/demo/" in f.file else f

    return s.with_(
        processes=tuple(replace(p, threads=tuple(replace(t, frames=tuple(move(f) for f in t.frames)) for t in p.threads)) for p in s.processes)
    )


@pytest.mark.parametrize("name", GUNICORN + CELERY + UWSGI or NONE)
def test_a_stuck_app_in_site_packages_is_not_idle(name):
    """Library frames count like stdlib ones inside a server's loop only when they are that
    loop's own wait helpers: a handler in an installed package is still a handler."""
    raw, truth = load_fixture(name)
    stuck = truth["truth"]["stuck"]
    s = analyze(_as_site_packages(raw))
    t = s.process(stuck["pid"]).thread(stuck["tid"])
    assert "site-packages/myapp/" in t.frames[0].file
    assert t.wait.kind is not WaitKind.IDLE, t.wait
    for pid in truth["truth"]["idle_pids"]:
        assert s.process(pid).thread(pid).wait.kind is WaitKind.IDLE


@pytest.mark.parametrize(
    ("parent", "child", "same"),
    [
        ("gunicorn: master [app:app]", "gunicorn: worker [app:app]", True),
        ("[celeryd: celery@host:MainProcess] -active- (worker)", "[celeryd: celery@host:ForkPoolWorker-1]", True),
        ("uWSGI master", "uWSGI worker 1", True),
        ("myapp uWSGI master", "myapp uWSGI worker 2", True),  # --procname-prefix-spaced myapp
        ("/usr/bin/python app.py", "uWSGI worker 1", False),
        ("gunicorn: master [a]", "uWSGI worker 1", False),
    ],
)
def test_one_pre_fork_server_by_its_process_titles(parent, child, same):
    """find_root walks from a worker up to its master when both carry the server's titles."""
    assert procs._same_server(tuple(parent.split()), tuple(child.split())) is same
