"""Issue 26, waits on what is not a Python lock object and what pooltui cannot read: each
on a demo that really has it (ground truth written from inside the target), read by
`pooltui snapshot` (one sample, no --locals: what cron runs), on 2.7 (where the shape
exists), 3.8, 3.11 and 3.13; and each one's healthy twin, which draws no warning and no error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import captured
from tests.conftest import interpreter_params

pytestmark = pytest.mark.live

VERSIONS = ("2.7", "3.8", "3.11", "3.13")
POOLTUI = str(Path(sys.executable).with_name("pooltui"))


def snapshot(pid: int, *extra: str) -> tuple[int, dict]:
    out = subprocess.run([POOLTUI, "snapshot", str(pid), "--format", "json", *extra], capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    captured.remember(doc)
    return out.returncode, doc["snapshot"]


def of_kind(snap: dict, kind: str) -> list[dict]:
    return [d for d in snap["diagnoses"] if d["kind"] == kind]


def loud(snap: dict) -> list[tuple[str, str]]:
    return [(d["kind"], d["summary"]) for d in snap["diagnoses"] if d["severity"] != "info"]


def py3(python: str) -> None:
    if "/2.7" in python:
        pytest.skip("needs Python 3")


@pytest.mark.parametrize("healthy", [False, True], ids=["hung", "healthy"])
@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.12", "3.13")))
def test_a_process_with_sub_interpreters_is_said_to_show_one_interpreters_threads(python, healthy, start_demo):
    """py-spy reads the newest interpreter only: the main thread is missing from the dump.
    That is said (info, fact), never silent; it is no warning or error on its own."""
    demo = start_demo("subinterpreters", python, *(["--healthy"] if healthy else []))
    truth = demo.truth
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "other_interpreters")
    assert len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "info" and d["certainty"] == "fact" and d["pids"] == [demo.pid]
    assert f"runs {len(truth['interpreters'])} Python interpreters" in d["summary"], d["summary"]
    (proc,) = [p for p in snap["processes"] if p["pid"] == demo.pid]
    assert proc["interpreters"] == len(truth["interpreters"])
    # what the verdict says is missing is missing: no frame of the main interpreter's threads
    # (3.8-3.11 name the plugin's thread by the ident of the thread that created its
    # interpreter, the main thread's: run_string swaps that thread state in)
    files = {f["file"] for t in proc["threads"] for f in t["frames"]}
    assert files == {"<string>"}, files
    if healthy:
        assert loud(snap) == [] and rc == 0


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.13")))
def test_a_process_that_only_imports_the_module_gets_no_note(python, start_demo):
    """One interpreter, the sub-interpreter module mapped (an interpreter created and
    destroyed): nothing is said."""
    demo = start_demo("subinterpreters", python, "--healthy", "--finish")
    rc, snap = snapshot(demo.pid)
    assert rc == 0 and loud(snap) == [] and of_kind(snap, "other_interpreters") == [] and demo.truth["interpreters"] == [0]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_worker_forked_mid_import_waits_on_an_orphaned_import_lock(python, start_demo):
    """The module lock's owner is read from the _ModuleLock (not its wakeup lock, which
    records none): the import is named, its owner is the parent's importing thread, absent here."""
    py3(python)  # 2.7: one global import lock, reset in a fork child
    demo = start_demo("import_lock", python, "--via", "fork")
    truth = demo.truth
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "orphaned_lock")
    assert rc == 1 and len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "error" and d["certainty"] == "fact", d
    assert d["summary"].startswith(f"the import of module {truth['module']} in pid {truth['worker_pid']}"), d["summary"]
    assert f"0x{truth['owner']['ident']:x}" in d["summary"] and repr(truth["owner"]["name"]) in d["summary"], d["summary"]
    assert [[w["pid"], w["tid"]] for w in truth["waiters"]] == [[p, t] for p, t in zip(d["pids"], d["tids"])]
    (lock,) = [lock for lock in snap["locks"] if lock["name"] == truth["lock"]["name"]]
    assert f"0x{lock['addr']:x}" == truth["lock"]["id"] and lock["owner_ident"] == truth["owner"]["ident"] and lock["orphaned"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_an_import_that_waits_on_a_lock_its_importer_waits_for_is_a_deadlock(python, start_demo):
    """CPython detects cycles of module locks only: a module lock and a plain Lock make a
    deadlock it never raises for. Both edges are facts (the module lock's recorded owner,
    the Lock's holder read from its `with` block)."""
    py3(python)
    demo = start_demo("import_lock", python, "--via", "abba")
    truth = demo.truth
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "deadlock_cycle")
    assert rc == 1 and len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "error" and set(d["tids"]) >= {truth["owner"]["tid"], truth["registrar"]["tid"]}, d
    text = " ".join(d["evidence"])
    assert f"the import of module {truth['module']}" in text and "REGISTRY_LOCK" in text, text
    assert "the import system's lock for that module" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_module_joining_a_thread_that_imports_is_a_deadlock(python, start_demo):
    """A module's top-level code joins a thread that imports it: on 3.x the module's own
    lock (a fact, read from memory); on 2.7 the one import lock, taken in C (no frame, no
    object read: its holder is the thread running a module's code under an import)."""
    demo = start_demo("import_lock", python, "--via", "join")
    truth = demo.truth
    rc, snap = snapshot(demo.pid)
    (d,) = of_kind(snap, "deadlock_cycle")
    assert rc == 1 and d["severity"] == "error" and set(d["tids"]) == {truth["owner"]["tid"], truth["late"]["tid"]}, d
    text = " ".join(d["evidence"])
    if "/2.7" in python:
        assert "waits for Python 2's import lock" in text and "runs a module's top-level code under an import" in text, text
        assert "On Python 2 every import holds one lock" in d["fix"], d
    else:
        assert f"the import of module {truth['module']}" in text, text
    assert [k for k, _ in loud(snap)] == ["deadlock_cycle"], loud(snap)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_imports_in_threads_and_workers_forked_after_them_draw_nothing(python, start_demo):
    demo = start_demo("import_lock", python, "--healthy")
    rc, snap = snapshot(demo.pid)
    assert rc == 0 and loud(snap) == []


def _stream_params():
    params = []
    for version in VERSIONS:
        for stream in ("audit", "stdout"):
            (param,) = interpreter_params((version,))
            marks = list(param.marks)
            if stream == "stdout" and version == "2.7":
                marks.append(pytest.mark.skip(reason="2.7's sys.stdout is a C FILE, not an io object"))
            params.append(pytest.param(param.values[0], stream, id=f"py{version}-{stream}", marks=marks))
    return params


@pytest.mark.parametrize(("python", "stream"), _stream_params())
def test_a_worker_forked_mid_write_waits_on_the_orphaned_buffer_lock_of_that_file(python, stream, start_demo):
    """The C lock inside a BufferedWriter records its owner's ident: read from the object
    (AUDIT, or sys.stdout's buffer), named with its fd, owner absent in the worker."""
    demo = start_demo("buffer_lock", python, "--via", "fork", "--stream", stream)
    truth = demo.truth
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "orphaned_lock")
    assert rc == 1 and len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "error" and d["certainty"] == "fact", d
    name = "sys.stdout's buffer" if stream == "stdout" else "__main__.AUDIT"
    assert d["summary"].startswith(f"{name} (a BufferedWriter's lock on fd {truth['fd']}) in pid {truth['worker_pid']}"), d["summary"]
    assert f"0x{truth['owner']['ident']:x}" in d["summary"], d["summary"]
    if "/2.7" not in python:  # 2.7: py-spy names no thread
        assert repr(truth["owner"]["name"]) in d["summary"], d["summary"]
    assert [[w["pid"], w["tid"]] for w in truth["waiters"]] == [[p, t] for p, t in zip(d["pids"], d["tids"])]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_write_to_a_file_whose_flush_waits_on_the_writers_lock_is_a_deadlock(python, start_demo):
    demo = start_demo("buffer_lock", python, "--via", "abba")
    truth = demo.truth
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "deadlock_cycle")
    assert rc == 1 and len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "error" and set(d["tids"]) >= {truth["owner"]["tid"], truth["app"]["tid"]}, d
    text = " ".join(d["evidence"])
    assert "__main__.AUDIT (a BufferedWriter's lock)" in text and "APP_LOCK" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_threads_contending_for_one_buffered_file_draw_nothing(python, start_demo):
    demo = start_demo("buffer_lock", python, "--healthy")
    for _ in range(3):
        rc, snap = snapshot(demo.pid)
        assert rc == 0 and loud(snap) == []


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_pool_whose_result_handler_died_is_said_to_have_lost_it_not_a_worker(python, start_demo):
    """CPython gh-103061's shape: every worker alive and idle, the result handler thread gone.
    The verdict names the handler; it does not blame a dead worker or send the user to dmesg."""
    demo = start_demo("pool_handler", python)
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "no_waker")  # nobody can deliver the results (analysis.wakers.no_result_handler)
    assert rc == 1 and len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "error" and "result handler thread" in d["summary"] and "gone" in d["summary"], d["summary"]
    assert "worker died" not in d["summary"] and "dmesg" not in d["fix"], d
    assert d["pids"][0] == demo.pid
    assert of_kind(snap, "lost_task") == [] and of_kind(snap, "pool_hung") == []


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_pool_mapping_in_a_loop_draws_nothing(python, start_demo):
    demo = start_demo("pool_handler", python, "--healthy")
    for _ in range(3):
        rc, snap = snapshot(demo.pid)
        assert loud(snap) == [] and rc == 0 and of_kind(snap, "busy_spin") == []


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_spinning_worker_handler_is_said_to_spin(python, start_demo):
    """gh-93542's picture: the process "sleeping", the handler "idle" in py-spy, one CPU busy.
    Its CPU time over the process's life says it spins."""
    py3(python)  # 2.7's worker handler polls with time.sleep(0.1): it cannot spin this way
    demo = start_demo("pool_handler", python, "--via", "spin")
    _, snap = snapshot(demo.pid)
    found = of_kind(snap, "busy_spin")
    tid = demo.truth["worker_handler"]["tid"]
    handler_read = [(t["cpu_time"], t["blocked"], t["switches"]) for p in snap["processes"] for t in p["threads"] if t["tid"] == tid]
    assert len(found) == 1, (snap["diagnoses"], "handler (cpu s, blocked, switches):", handler_read)
    d = found[0]
    assert d["pids"] == [demo.pid] and "worker handler thread" in d["summary"] and "spins" in d["summary"], d
    handler = demo.truth["worker_handler"]
    assert d["tids"] == [handler["tid"]]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_callback_blocked_on_what_the_waiter_holds_is_a_deadlock(python, start_demo):
    """The parent holds a lock around map_async(..., callback=...).wait(); the callback, run by
    the pool's result handler thread, takes the same lock. The workers are idle, their tasks
    done: the results stop at the result handler, the only thread that delivers them. A
    deadlock through the two threads -- not a pool hung for a lost task."""
    demo = start_demo("pool_handler", python, "--via", "callback")
    rc, snap = snapshot(demo.pid)
    found = of_kind(snap, "deadlock_cycle")
    assert rc == 1 and len(found) == 1, snap["diagnoses"]
    d = found[0]
    assert d["severity"] == "error" and set(d["tids"]) == {demo.pid, demo.truth["result_handler"]["tid"]}, d
    text = " ".join(d["evidence"])
    assert "result handler thread delivers them" in text and "RESULTS_LOCK" in text and "callback" in d["fix"], d
    assert of_kind(snap, "pool_hung") == [] and of_kind(snap, "lost_task") == []


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_callbacks_taking_a_lock_the_waiter_takes_between_waits_draw_nothing(python, start_demo):
    demo = start_demo("pool_handler", python, "--via", "callback", "--healthy")
    for _ in range(3):
        rc, snap = snapshot(demo.pid)
        assert loud(snap) == [] and rc == 0


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
def test_a_coroutine_waiting_on_a_future_only_its_own_loop_completes_is_a_deadlock(python, start_demo):
    """run_coroutine_threadsafe(coro, loop).result() from a coroutine of that loop: the one
    thread that could run coro is the one waiting (an idle executor thread beside it sets
    nothing of the loop's)."""
    demo = start_demo("loop_future", python)
    loop = demo.truth["loop"]
    rc, snap = snapshot(demo.pid)
    (d,) = of_kind(snap, "deadlock_cycle")
    assert rc == 1 and (d["severity"], d["certainty"]) == ("error", "inferred") and d["tids"] == [loop["tid"]], d
    assert "for the future of run_coroutine_threadsafe()" in " ".join(d["evidence"]) and "await the coroutine" in d["fix"], d
    assert [k for k, _ in loud(snap)] == ["deadlock_cycle"], loud(snap)


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
def test_a_thread_waiting_on_a_future_of_a_running_loop_draws_nothing(python, start_demo):
    demo = start_demo("loop_future", python, "--healthy")
    for _ in range(3):
        _rc, snap = snapshot(demo.pid)
        assert loud(snap) == []


@pytest.mark.parametrize("how", ["sleep", "join"])
@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_thread_calling_its_own_server_under_a_lock_the_handler_needs_is_a_deadlock(python, how, start_demo):
    """A socket cycle inside one process, beside a server loop polling its listening socket
    with a timeout: py-spy's pause leaves that poll in restart_syscall, and the loop wakes
    while the knot is watched -- it must still not count as a writer of a connection it does
    not watch. A main thread joining that loop could write only once the loop ends: the
    cycle stands without it, as a guess that names it."""
    demo = start_demo("self_call", python, "--main", how)
    job, handler = demo.truth["job"], demo.truth["handler"]
    rc, snap = snapshot(demo.pid)
    (d,) = of_kind(snap, "deadlock_cycle")
    assert sorted(d["tids"]) == sorted([job["tid"], handler["tid"]]), d
    if how == "sleep":
        assert rc == 1 and (d["severity"], d["certainty"]) == ("error", "inferred"), d
    else:
        assert rc == 0 and (d["severity"], d["certainty"]) == ("warning", "guess"), d
        said = " ".join(d["evidence"])  # the main thread (2.7 names no thread without --locals)
        assert f"(pid {demo.pid}, which waits for a thread to finish in `threads[0].join()`" in said and "answers once its own wait ends" in said, d
    text = " ".join(d["evidence"])
    assert "STATE_LOCK" in text and "its own process" in text and "Each side of a connection waits for the other" in d["fix"], d
    assert [k for k, _ in loud(snap)] == ["deadlock_cycle"], loud(snap)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_thread_calling_its_own_server_without_the_lock_draws_nothing(python, start_demo):
    demo = start_demo("self_call", python, "--healthy")
    for _ in range(3):
        rc, snap = snapshot(demo.pid)
        assert loud(snap) == [] and rc == 0, loud(snap)
