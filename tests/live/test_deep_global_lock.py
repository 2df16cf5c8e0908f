"""A module-level lock waited on many frames down, in code with no source line, is named
and its deadlock found (issue 23 item 4): the ``deep_global_abba`` demo, on every
interpreter installed. Its locks live in the globals of code run by ``exec`` under a file
name that names no file, and each thread waits on the second one 11+ frames deep: only
the waiting frame's own ``f_globals`` leads to them (2.7 too, where the acquire is a
``threading.py`` frame of the Python ``_RLock`` whose ``self`` is the lock)."""

from __future__ import annotations

import asyncio

import pytest

from pooltui.capture import dump, locks, memory, pyspy, sourcelines, waited
from pooltui.model import Severity, WaitKind
from tests.conftest import capture, interpreter_params

pytestmark = pytest.mark.live


@pytest.mark.parametrize("python", interpreter_params())
def test_a_module_lock_waited_deep_in_exec_code_is_named_and_its_deadlock_found(start_demo, python):
    running = start_demo("deep_global_abba", python)
    truth = running.truth
    snap = capture(running.pid)
    cycles = [d for d in snap.diagnoses if d.kind == "deadlock_cycle"]
    assert cycles and cycles[0].severity is Severity.ERROR, [d.summary for d in snap.diagnoses]
    root = next(p for p in snap.processes if p.pid == running.pid)
    for name, info in truth["threads"].items():
        thread = next(t for t in root.threads if t.tid == info["tid"])
        assert len(thread.frames) >= info["depth"] + 3, "the wait is deep in the stack"
        waiting = next(f for f in thread.frames if not f.file.endswith("threading.py"))  # 2.7: _RLock.acquire on top
        assert waiting.file == truth["code_file"] and not waiting.code, "no source line"
        assert "idle" not in thread.wait.summary, thread.wait.summary
        assert thread.wait.kind is WaitKind.RLOCK, thread.wait.summary
        assert info["waits_for"] in thread.wait.summary, (name, thread.wait.summary)
    evidence = " ".join(cycles[0].evidence)
    for lock in truth["locks"]:
        assert lock in evidence, (lock, evidence)


@pytest.mark.parametrize("python", interpreter_params())
def test_a_global_the_waiting_line_names_is_looked_up_where_python_looks(start_demo, python):
    """``with GATE:`` in a pool task, GATE a module global the initializer set (issue 28): the
    lock is named as that global, read from the globals the frame runs in, not found by
    walking every frame's locals (where it is also ``initargs[1]``) and then module after
    module. The reads are counted, not timed: the walks read ~1 MB of a 3.11 worker."""
    demo = start_demo("pool_size", python, "--workers", "2", "--mode", "blocked")
    snap = capture(demo.pid)
    assert any(lock.name.endswith("GATE") and lock.waiters for lock in snap.locks), [lock.name for lock in snap.locks]
    for pid in demo.truth["blocked_pids"]:
        worker = snap.process(pid)
        thread = next(t for t in worker.threads if t.futex is not None)
        dumped = asyncio.run(dump.dump(pid, pyspy.DumpOptions(locals=True, timeout=30.0), redact_secrets=True))
        frames = sourcelines.with_code(next(t.frames for t in dumped if t.ident == thread.ident), pid)  # as the capture has them
        assert any(f.locals for f in frames), "the dump read the frames' locals"
        with memory.TargetMemory(pid, locks.version_of(worker), locks.budget(5.0)) as mem:
            found = waited.find_waited(mem, frames, thread.futex, thread.ident)
            spent = mem.spent
        assert found is not None and found[1] == "__main__.GATE", found
        assert spent < 64 << 10, f"{spent} bytes read to name it"
