"""A fork worker that dropped to ``nobody`` must not decide what root sees of its siblings
(issue 23 item 1).

A root master forks two workers that ``setuid`` to nobody (gunicorn ``--user``, uWSGI
``uid=``, celery ``--uid``); one of them rewrites, in its own copy-on-write memory, the
name, file name or line table of the code object all three sleep in
(``tests/targets/hostile_siblings.py``). Every process must be shown as ``py-spy dump``
shows it from that process's own memory; the root-only file the hostile worker names
must never be read for the master; the clean sibling keeps its own frames. Direct reads
(``capture.direct``) are the path under test: the checks below make sure they ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pooltui.capture import procs
from pooltui.capture.dump import dump_consistent
from pooltui.capture.memory import stacks
from pooltui.capture.pyspy import find_pyspy
from tests.conftest import capture, interpreter_params

pytestmark = pytest.mark.live

TARGET = Path(__file__).resolve().parent.parent / "targets" / "hostile_siblings.py"
VERSIONS = ("3.8", "3.11", "3.13")  # direct reads cover 3.8-3.13: the oldest, the first with
# _PyInterpreterFrame and qualified names, the newest
SECRET = "ROOT-ONLY-SECRET-5e1f0c"
VICTIM = "import time\n\n\ndef housekeeping():\n    while True:\n        time.sleep(3600)\n"
VICTIM_LINE = 6
PLANTED = "sk_secret.txt"  # as long as "victim_mod.py": the worker overwrites the characters in place


class Family:
    def __init__(self, proc: subprocess.Popen, pids: dict, base: Path, python: str) -> None:
        self.proc, self.base, self.python = proc, base, python
        self.master, self.hostile, self.clean = pids["master"], pids["hostile"], pids["clean"]
        asked = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True)
        self.version = asked.stdout.strip()  # X.Y, as the capture names it

    @property
    def pids(self) -> list[int]:
        return [self.master, self.hostile, self.clean]


def _spy(pid: int) -> dict[int, list[tuple[str, str, int]]]:
    """py-spy's own view of ``pid``: thread ident -> (function, file, line) innermost first."""
    out = subprocess.run([find_pyspy(), "dump", "--pid", str(pid), "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {t["thread_id"]: [(f["name"], f["filename"], f["line"]) for f in t["frames"]] for t in json.loads(out.stdout)}


def _settled(family: Family, timeout: float = 60.0) -> None:
    """Until every process sleeps in housekeeping (py-spy's innermost frame is in the victim
    directory) and none was scheduled meanwhile: a readiness condition (the master prints
    its line a moment before it calls housekeeping)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inside = all(frames and frames[0][1].startswith(str(family.base)) for pid in family.pids for frames in _spy(pid).values())
        before = {pid: procs.read_sched(pid) for pid in family.pids}
        time.sleep(0.1)  # a poll interval (py-spy's pause above is itself a context switch)
        if inside and not any(procs.ran_since(before[pid], procs.read_sched(pid)) for pid in family.pids):
            return
    pytest.fail("the family never settled in housekeeping")


def _start(python: str, mode: str):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("needs root: the master runs as root, its workers setuid to nobody")
    base = Path(tempfile.mkdtemp(prefix="pooltui-siblings-"))  # /tmp/pytest-of-root is 0700
    base.chmod(0o755)
    (base / "victim_mod.py").write_text(VICTIM)
    secret = base / PLANTED
    secret.write_text("".join(f"{SECRET} line {n}\n" for n in range(1, 40)))
    secret.chmod(0o600)
    proc = subprocess.Popen([python, str(TARGET), str(base), mode, str(secret)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "the family did not get ready"
    line = proc.stdout.readline()
    assert line.startswith("{"), line
    return Family(proc, json.loads(line), base, python)


@pytest.fixture
def family():  # type: ignore[no-untyped-def]
    started: list[Family] = []

    def start(python: str, mode: str) -> Family:
        started.append(_start(python, mode))
        _settled(started[-1])
        return started[-1]

    yield start
    for fam in started:
        os.killpg(fam.proc.pid, 9)
        fam.proc.wait()
        shutil.rmtree(fam.base, ignore_errors=True)


def _shown(processes) -> dict[int, dict[int, list[tuple[str, str, int]]]]:  # type: ignore[no-untyped-def]
    return {p.pid: {t.ident: [(f.function, f.file, f.line) for f in t.frames] for t in p.threads} for p in processes}


def _shown_json(report: dict) -> dict[int, dict[int, list[tuple[str, str, int]]]]:
    return {
        p["pid"]: {t["ident"]: [(f["function"], f["file"], f["line"]) for f in t["frames"]] for t in p["threads"]}
        for p in report["snapshot"]["processes"]
    }


def _assert_each_as_py_spy_shows_it(family: Family, shown: dict) -> None:
    roles = {family.master: "master", family.hostile: "hostile", family.clean: "clean"}
    for pid, role in roles.items():
        assert shown[pid] == _spy(pid), f"process {pid} ({role}) is not shown as py-spy shows it"


def _assert_the_rewrite_happened(family: Family, mode: str) -> None:
    """py-spy sees the hostile worker's own memory: the rewrite is there and only there."""
    hostile = next(iter(_spy(family.hostile).values()))[0]
    master = next(iter(_spy(family.master).values()))[0]
    assert master == ("housekeeping", str(family.base / "victim_mod.py"), VICTIM_LINE)
    if mode == "plant":
        assert hostile[0].startswith("EVIL") and hostile[1] == str(family.base / PLANTED)
    else:
        assert hostile[1] == str(family.base / "victim_mod.py")[:-3]


@pytest.fixture
def pyspy_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A py-spy wrapper that logs the pids it is asked to dump (for `pooltui snapshot` run as a
    subprocess: a process it shows but never dumped was read directly)."""
    log = tmp_path / "pyspy-calls.log"
    wrapper = tmp_path / "py-spy"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(log))}\nexec {shlex.quote(find_pyspy())} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _dumped_by_pyspy(wrapper: Path) -> set[int]:
    log = wrapper.parent / "pyspy-calls.log"
    words = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return {int(w[w.index("--pid") + 1]) for w in words if "--pid" in w}


@pytest.mark.parametrize("mode", ["plant", "corrupt"])
@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_snapshot_shows_every_sibling_from_its_own_memory(family, pyspy_log, python, mode):
    """`pooltui snapshot MASTER --format json` (as root, direct reads on): each process as
    py-spy shows it, the secret nowhere."""
    fam = family(python, mode)
    _assert_the_rewrite_happened(fam, mode)
    env = dict(os.environ, POOLTUI_PYSPY=str(pyspy_log), POOLTUI_DIRECT="1")
    env.pop("POOLTUI_DEBUG", None)
    command = [sys.executable, "-m", "pooltui.cli", "snapshot", str(fam.master), "--format", "json"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    assert SECRET not in out.stdout and SECRET not in out.stderr
    assert set(fam.pids) - _dumped_by_pyspy(pyspy_log), "no process of the family was read directly: the test proves nothing"
    _assert_each_as_py_spy_shows_it(fam, _shown_json(json.loads(out.stdout)))


@pytest.mark.parametrize("mode", ["plant", "corrupt"])
@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_hostile_worker_read_first_decides_nothing_about_the_master(family, monkeypatch, python, mode):
    """The order that plants: the hostile worker read (directly, checked against py-spy) in
    this process first, then the whole tree captured, as a refresh of `attach` would."""
    fam = family(python, mode)
    _assert_the_rewrite_happened(fam, mode)
    monkeypatch.setenv("POOLTUI_DIRECT", "1")
    direct_reads: list[int] = []
    real = stacks.StackMemory.threads

    def counted(self):  # type: ignore[no-untyped-def]
        direct_reads.append(self.pid)
        return real(self)

    monkeypatch.setattr(stacks.StackMemory, "threads", counted)
    first = asyncio.run(dump_consistent(fam.hostile, python=fam.version))
    assert _shown_from_threads(first) == _spy(fam.hostile)
    snap = capture(fam.master)
    assert {fam.master, fam.clean} & set(direct_reads), "the siblings were not read directly: the test proves nothing"
    assert SECRET not in json.dumps(_report_dict(snap))
    _assert_each_as_py_spy_shows_it(fam, _shown(snap.processes))


def _shown_from_threads(threads) -> dict[int, list[tuple[str, str, int]]]:  # type: ignore[no-untyped-def]
    return {t.ident: [(f.function, f.file, f.line) for f in t.frames] for t in threads}


def _report_dict(snap) -> dict:  # type: ignore[no-untyped-def]
    from pooltui import model

    return json.loads(model.dumps(snap))
