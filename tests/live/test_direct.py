"""Stacks read directly (capture.direct, capture.memory.stacks) are py-spy's, on every
interpreter the reader knows: real targets, real py-spy, both reads of the same process
with no thread scheduled through them (else the pair says nothing and is read again).

Equal means: thread idents, OS thread ids, names, GIL holder, and every frame's function,
file, short file name and line. The targets are demos of the incidents pooltui exists for
and a script with the shapes a stack reader gets wrong: closures, generators, methods
(3.11+ qualified names), a frame inside ``__init__`` entered by a specialized call (3.13's
cleanup frame), a class body, a thread asleep holding the GIL, non-ASCII names, a package
(short file name ``pkg/mod.py``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest

from pooltui.capture import direct, procs, pyspy, state
from pooltui.capture.dump import dump_consistent
from pooltui.capture.errors import ProcessGone
from pooltui.capture.memory import stacks
from tests.conftest import capture, interpreter_params

pytestmark = pytest.mark.live

VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")

PACKAGE_MODULE = """
import threading

def park(event):
    event.wait()
"""

SHAPES = """
import ctypes, sys, threading, time
sys.path.insert(0, sys.argv[1])
from deep.pkg import mod

ready = threading.Event()
never = threading.Event()

def outer():
    def inner():
        never.wait()
    return inner()

def gen():
    yield never.wait()

class Thing(object):
    def __init__(self, block):
        if block:
            never.wait()

    def method(self):
        never.wait()

    @staticmethod
    def static():
        never.wait()

def make_things():
    for i in range(40):  # specialize the call (3.13: CALL_ALLOC_AND_ENTER_INIT)
        Thing(False)
    Thing(True)

def in_class_body():
    class Body(object):
        never.wait()

def r\u00e9sum\u00e9():
    never.wait()

def holds_gil():
    ready.wait()
    ctypes.PyDLL(None).sleep(600)  # PyDLL: the GIL is not released while libc sleeps

targets = [outer, lambda: [x for x in gen()], Thing(False).method, Thing.static, make_things, in_class_body, r\u00e9sum\u00e9,
           lambda: mod.park(never)]
for i, target in enumerate(targets):
    threading.Thread(target=target, name="shape-%d" % i).start()
gil = threading.Thread(target=holds_gil, name="holds \u00e9 gil")
gil.start()
time.sleep(0.5)
sys.stdout.write("ready\\n")
sys.stdout.flush()
ready.set()
never.wait()
"""


def _comparable(threads):
    return direct._comparable(threads)


def _both(pid: int, version: tuple[int, int]):
    """(direct, py-spy) reads of ``pid`` with nothing scheduled through both, or None."""
    before = procs.read_sched(pid)
    if procs.any_running(before):
        return None
    threads = direct._read(pid, version)[0]
    spy = asyncio.run(pyspy.dump(pid, pyspy.DumpOptions(nonblocking=True)))
    if procs.ran_since(before, procs.read_sched(pid)):
        return None
    return threads, spy


def _assert_same(pid: int, version: tuple[int, int], tries: int = 20) -> list:
    for _ in range(tries):
        pair = _both(pid, version)
        if pair is not None:
            mine, spy = pair
            assert _comparable(mine) == _comparable(spy), f"process {pid}: direct read differs from py-spy's"
            return mine
        time.sleep(0.05)
    pytest.skip(f"process {pid} never stood still for two reads")


def _version(python: str) -> tuple[int, int]:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True)
    major, minor = out.stdout.split(".")
    return int(major), int(minor)


@pytest.fixture
def shapes(tmp_path, request):
    package = tmp_path / "deep" / "pkg"
    package.mkdir(parents=True)
    (tmp_path / "deep" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(PACKAGE_MODULE)
    script = tmp_path / "shapes.py"
    script.write_text(SHAPES, encoding="utf-8")
    proc = subprocess.Popen([request.param, str(script), str(tmp_path)], stdout=subprocess.PIPE, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    yield proc.pid, _version(request.param)
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("shapes", interpreter_params(VERSIONS), indirect=True)
def test_the_shapes_a_stack_reader_gets_wrong_read_as_py_spy_reads_them(shapes):
    pid, version = shapes
    threads = _assert_same(pid, version)
    names = {t.name for t in threads}
    assert {f"shape-{i}" for i in range(8)} | {"MainThread", "holds \u00e9 gil"} <= names
    frames = {f.function for t in threads for f in t.frames}
    assert "r\u00e9sum\u00e9" in frames and "park" in frames
    by_name = {t.name: t for t in threads}
    assert by_name["holds \u00e9 gil"].owns_gil, "the thread asleep in a PyDLL call holds the GIL"
    assert not any(t.owns_gil for t in threads if t.name != "holds \u00e9 gil")
    park = next(f for t in threads for f in t.frames if f.function == "park")
    assert park.short_file == "deep/pkg/mod.py" and park.line == 5


DEMOS = (("abba", ()), ("pool_size", ("--workers", "3")), ("manager_lock", ()), ("condition", ()), ("logging_fork", ()), ("socket_cycle", ()))


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("demo,args", DEMOS, ids=[d for d, _ in DEMOS])
def test_every_process_of_a_demo_reads_as_py_spy_reads_it(start_demo, python, demo, args):
    running = start_demo(demo, python, *args)
    version = _version(python)
    pids = [p.pid for p in procs.walk_tree(running.pid) if p.error is None and p.status != "zombie"]
    assert pids
    for pid in pids:
        _assert_same(pid, version)


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
def test_a_capture_with_direct_reads_has_the_stacks_and_verdicts_of_one_without(start_demo, python, monkeypatch):
    """Two captures of one ABBA deadlock, without and with direct reads: the same threads,
    the same verdicts, and the same stacks for the threads the deadlock holds for good (the
    two transfer threads and MainThread in join(), from the demo's truth). Which threads are
    compared does not depend on what the scheduler did between the captures: a thread may
    rightly move in between (the demo's control thread), and under load every thread had
    been switched in and out (py-spy stops a process to read it), which left nothing to
    compare when "stood still" was judged by context-switch counts."""
    running = start_demo("abba", python)
    held_for_good = {info["tid"] for info in running.truth["threads"].values()} | {running.pid}  # MainThread's tid is the pid

    def stacks_and_verdicts(snap):
        def stack(t):  # type: ignore[no-untyped-def]
            return (t.tid, t.name, t.owns_gil, t.ghost, tuple((f.function, f.file, f.line, f.short_file) for f in t.frames))

        threads = {(p.pid, t.ident): stack(t) for p in snap.processes for t in p.threads}
        return threads, sorted((d.kind, d.severity) for d in snap.diagnoses)

    monkeypatch.setenv("POOLTUI_DIRECT", "0")
    without = stacks_and_verdicts(capture(running.pid))
    monkeypatch.setenv("POOLTUI_DIRECT", "1")
    calls = []
    real = stacks.StackMemory.threads

    def counted(self):
        calls.append(self.pid)
        return real(self)

    monkeypatch.setattr(stacks.StackMemory, "threads", counted)
    with_direct = stacks_and_verdicts(capture(running.pid))
    assert calls, "the capture read stacks directly"
    assert with_direct[0].keys() == without[0].keys()
    held = sorted(k for k, stack in without[0].items() if k[0] == running.pid and stack[0] in held_for_good)
    assert len(held) == 3, "the two deadlocked threads and MainThread are in the capture"
    assert [with_direct[0][k] for k in held] == [without[0][k] for k in held]
    assert with_direct[1] == without[1]
    assert any(kind == "deadlock_cycle" for kind, _ in with_direct[1])


def test_a_version_without_a_stack_layout_is_left_to_py_spy():
    assert direct.version_of("2.7") is None and direct.version_of("3.6") is None and direct.version_of("3.7") is None
    assert direct.version_of("3.14") is None and direct.version_of(None) is None and direct.version_of("x") is None
    assert direct.version_of("3.11") == (3, 11)
    assert not direct.usable("3.11", pyspy.DumpOptions(locals=True))
    assert direct.usable("3.11", pyspy.DumpOptions())


@pytest.mark.parametrize("python", interpreter_params(("3.11",)))
def test_a_process_that_exits_during_a_direct_read_is_gone_not_misread(python, monkeypatch):
    """Killed between the thread list and its frames: the read says the process is gone
    (the capture then shows it so), it does not fall back to a half read or to py-spy."""
    proc = subprocess.Popen([python, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"\n"
    deadline = time.monotonic() + 30
    while procs.any_running(procs.read_sched(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.01)  # asleep in time.sleep(): read directly
    real = stacks.StackMemory.frames

    def killed(self, frame):  # type: ignore[no-untyped-def]
        proc.kill()
        proc.wait()  # reaped: nothing left to read
        return real(self, frame)

    monkeypatch.setattr(stacks.StackMemory, "frames", killed)
    with pytest.raises(ProcessGone):
        asyncio.run(dump_consistent(proc.pid, python="3.11"))


@pytest.mark.parametrize("python", interpreter_params(("3.11",)))
def test_a_binary_compared_with_py_spy_once_is_not_compared_again_by_the_next_run(python, tmp_path, monkeypatch):
    """The comparison with py-spy is kept on disk (capture.checkrecords): a new capture state
    -- the next `pooltui snapshot` -- reads the same binary's process directly at once."""
    monkeypatch.setenv("POOLTUI_CACHE_DIR", str(tmp_path / "records"))
    proc = subprocess.Popen([python, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"\n"
        deadline = time.monotonic() + 30
        while procs.any_running(procs.read_sched(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)  # asleep in time.sleep(): read directly
        compared = []
        real = pyspy.dump

        async def counted(pid, *args, **kwargs):  # type: ignore[no-untyped-def]
            compared.append(pid)
            return await real(pid, *args, **kwargs)

        monkeypatch.setattr(pyspy, "dump", counted)

        def new_run():  # type: ignore[no-untyped-def]
            with state.active(state.CaptureState()):  # what a new command starts with
                return asyncio.run(dump_consistent(proc.pid, python="3.11"))

        first = new_run()
        assert compared == [proc.pid], "the first run compares the binary's read with py-spy's"
        assert len(os.listdir(tmp_path / "records")) == 1, "and keeps what it found"
        second = new_run()
        assert compared == [proc.pid], "the next run takes the record: no py-spy"
        assert [(t.tid, [(f.function, f.line) for f in t.frames]) for t in second] == [
            (t.tid, [(f.function, f.line) for f in t.frames]) for t in first
        ]
    finally:
        proc.kill()
        proc.wait()
