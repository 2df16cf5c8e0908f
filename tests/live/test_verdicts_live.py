"""One live test per verdict of issue 16, on 2.7 (where the mechanism exists), 3.8, 3.11
and 3.13: a demo that really has the problem, read by `pooltui snapshot` (one sample,
no --locals: what cron runs), asserting kind, severity, subjects and evidence."""

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


def snapshot(pid: int, *extra: str) -> tuple[int, list[dict]]:
    out = subprocess.run([POOLTUI, "snapshot", str(pid), "--format", "json", *extra], capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    captured.remember(doc)
    return out.returncode, doc["snapshot"]["diagnoses"]


def one(diagnoses: list[dict], kind: str) -> dict:
    found = [d for d in diagnoses if d["kind"] == kind]
    assert len(found) == 1, [(d["kind"], d["summary"]) for d in diagnoses]
    return found[0]


def py3(python: str) -> None:
    if "/2.7" in python:
        pytest.skip("needs Python 3")


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_future_waited_while_holding_the_lock_its_work_needs_is_a_deadlock(python, start_demo):
    py3(python)  # concurrent.futures
    demo = start_demo("future_cycle", python)
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    assert rc == 1 and d["severity"] == "error" and d["certainty"] == "inferred"
    truth = demo.truth
    assert set(d["tids"]) == {truth["holder"]["tid"], truth["waiter"]["tid"]} and d["pids"] == [demo.pid]
    text = " ".join(d["evidence"])
    assert "Cache.lock" in text and "future's result" in text and "load (" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_join_of_a_thread_that_waits_for_the_joiners_lock_is_a_deadlock(python, start_demo):
    """Which thread a join() waits for is read from the Thread object (its ident), so the
    cycle through it is a fact, not a guess."""
    demo = start_demo("future_cycle", python, "--via", "join")
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    assert rc == 1 and d["severity"] == "error" and d["certainty"] == "fact", d
    holder, waiter = demo.truth["holder"], demo.truth["waiter"]
    assert set(d["tids"]) == {holder["tid"], waiter["tid"]}
    text = " ".join(d["evidence"])
    assert "joins '" in text and "(its Thread object's ident, read from memory)" in text and "Cache.lock" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("extra", [(), ("--heartbeat",)], ids=["alone", "heartbeat"])
def test_joining_a_child_whose_queue_feeder_is_blocked_on_a_full_pipe_is_a_deadlock(extra, python, start_demo):
    # --heartbeat: a sleeping heartbeat thread and a Timer in the parent cannot read the pipe:
    # they are no wakers and veto nothing (it was "Probably", exit 0)
    demo = start_demo("queue_join", python, *extra)
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    truth = demo.truth
    assert rc == 1 and d["severity"] == "error"
    assert set(d["pids"]) == {truth["parent_pid"], truth["child_pid"]}
    assert set(d["tids"]) == {truth["parent_pid"], truth["child_pid"], truth["feeder_tid"]}
    text = " ".join(d["evidence"])
    assert f"waits for pid {truth['child_pid']} to exit" in text and "feeder" in text
    assert "blocked in write()" in text and f"pid {truth['parent_pid']}" in text and "pipe:[" in text, text
    assert "Drain a multiprocessing.Queue" in d["fix"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_pool_whose_initializer_raises_is_a_crash_loop(python, start_demo):
    demo = start_demo("crash_loop", python)
    # over samples, as the issue saw it (--samples): how many deaths one short capture sees
    # depends on how busy the machine is, and CRASH_EXITS of them are needed
    rc, found = snapshot(demo.pid, "--samples", "3", "--interval", "1")
    d = one(found, "crash_loop")
    assert rc == 1 and d["severity"] == "error" and d["pids"][0] == demo.pid
    assert "exit code 1" in d["summary"] and any("exit code 1" in e for e in d["evidence"])


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("how", ["stop", "trace"])
def test_a_stopped_or_traced_worker_in_a_task_holds_the_pool(python, how, start_demo):
    demo = start_demo("stopped_worker", python, "--how", how)
    truth = demo.truth
    rc, found = snapshot(demo.pid)
    d = one(found, "stopped_holds_pool")
    assert rc == 1 and d["severity"] == "error" and d["certainty"] == "fact"
    assert d["pids"][:2] == [truth["stopped_pid"], demo.pid]
    if how == "trace":
        assert f"TracerPid {truth['tracer_pid']}" in d["summary"] + " ".join(d["evidence"])
    else:
        assert "stopped by a signal" in d["summary"]
    assert "waits for pool results" in " ".join(d["evidence"])


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_manager_killed_before_pooltui_started_is_gone_in_one_snapshot(python, start_demo):
    demo = start_demo("manager_gone", python, "--zombie")
    rc, found = snapshot(demo.pid)
    d = one(found, "manager_gone")
    assert rc == 1 and d["severity"] == "error"
    assert set(demo.truth["worker_pids"]) <= set(d["pids"])
    text = " ".join(d["evidence"])
    assert "killed by SIGKILL" in text and ("Broken pipe" in text or "BrokenPipeError" in text or "EOFError" in text), text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_killed_manager_whose_clients_keep_no_error_is_probably_gone(python, start_demo):
    """Workers that swallow the failure keep no error among their locals; the killed,
    unreaped Manager and their proxies still say it (a guess: a warning). Before: no verdict."""
    demo = start_demo("manager_gone", python, "--zombie", "--quiet")
    rc, found = snapshot(demo.pid)
    d = one(found, "manager_gone")
    assert rc == 0 and d["severity"] == "warning" and d["certainty"] == "guess", d
    assert d["summary"].startswith("Probably the Manager server is gone") and set(demo.truth["worker_pids"]) <= set(d["pids"])
    text = " ".join(d["evidence"])
    assert "holds a manager proxy" in text and f"pid {demo.truth['manager_pid']} killed by SIGKILL" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_plain_lock_inherited_locked_by_a_fork_child_with_no_other_thread_is_an_error(python, start_demo):
    """A QueueHandler's queue mutex (a plain Lock: no owner recorded) held by a thread at
    fork(): the child's only thread waits on it. Before, this read "No problems found"."""
    demo = start_demo("fork_queue_lock", python)
    rc, found = snapshot(demo.pid)
    d = one(found, "orphaned_lock")
    child = demo.truth["child_pid"]
    assert rc == 1 and d["severity"] == "error" and d["pids"] == [child] and d["tids"] == [child]
    assert "no thread there can release it" in d["summary"] and "inherited locked across fork()" in d["summary"], d["summary"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_thread_reentering_a_plain_lock_it_holds_is_a_deadlock(python, start_demo):
    """`with LOCK:` calling a helper that takes `with LOCK:` again; other threads alive.
    Before, this read "No problems found" (a plain Lock records no owner)."""
    demo = start_demo("plain_reentry", python)
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    assert rc == 1 and d["severity"] == "error" and d["tids"] == [demo.truth["reloader"]["tid"]], d
    assert "which it holds itself" in d["summary"] and "reload_config" in d["summary"], d["summary"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_script_started_by_a_relative_path_keeps_its_lines_and_verdicts(python, start_demo):
    """`cd demo && python plain_reentry.py`: <= 3.8 keeps the script's path relative in its
    code; its lines are read against the target's working directory. Without them a thread
    waiting at `with L:` for L taken by another thread's acquire() once read as a
    self-deadlock (a false error), and a real one could not be told."""
    demo = start_demo("plain_reentry", python, relative=True)
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    assert rc == 1 and d["severity"] == "error" and d["tids"] == [demo.truth["reloader"]["tid"]], d
    demo = start_demo("acquire_global", python, relative=True)
    rc, found = snapshot(demo.pid)
    assert rc == 0 and not [x for x in found if x["severity"] == "error"], found
    out = subprocess.run([POOLTUI, "snapshot", str(demo.pid), "--format", "md"], capture_output=True, text=True, timeout=300)
    assert "(past FLUSH_LOCK.acquire() at " in out.stdout, out.stdout[-3000:]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize(
    ("via", "shape"), [("socketpair", "pool"), ("tcp", "pool"), ("unix", "pool"), ("socketpair", "process"), ("unix", "thread"), ("tcp", "mutual")]
)
def test_a_worker_waiting_on_a_socket_to_its_waiting_parent_is_a_deadlock(python, via, shape, start_demo):
    demo = start_demo("socket_cycle", python, "--via", via, "--shape", shape)
    truth = demo.truth
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    parent, worker = truth["parent"], truth["worker"]
    assert set(d["pids"]) == {parent["pid"], worker["pid"]} and set(d["tids"]) == {parent["tid"], worker["tid"]}
    text = " ".join(d["evidence"])
    assert "is blocked in recvfrom() waiting to read socket:[" in text and f"its other end is held by pid {parent['pid']}" in text, text
    waits = {"process": f"waits for pid {worker['pid']} to exit", "mutual": "waits to read its end too: each waits for the other"}
    assert waits.get(shape, "waits for pool results") in text, text
    if shape == "thread":  # the main thread waits on an Event: it could answer once that is set
        assert rc == 0 and d["severity"] == "warning" and d["certainty"] == "guess", d
        main = text.replace(f"'Thread {parent['pid']}'", "'MainThread'")  # 2.7: py-spy names no thread
        assert f"unless 'MainThread' (pid {parent['pid']}, which waits for an Event" in main, text
    else:
        assert rc == 1 and d["severity"] == "error" and d["certainty"] == "inferred", d
    assert "never block on a reply from a process or thread that is itself waiting for you" in d["fix"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_threading_lock_held_across_await_of_executor_work_that_needs_it_is_a_probable_deadlock(python, start_demo):
    """The holder is a suspended coroutine (a frame on no thread's stack) and the loop idles.
    Before, this read "No problems found"."""
    py3(python)  # asyncio.run
    demo = start_demo("asyncio_executor", python)
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    assert rc == 0 and d["severity"] == "warning" and d["certainty"] == "guess", d
    assert set(d["tids"]) == {demo.truth["waiter"]["tid"], demo.truth["loop"]["tid"]} and "handle_request()" in d["summary"], d


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_queue_get_whose_producer_was_killed_waits_for_nobody(python, start_demo):
    """A single-threaded collector blocked in Queue.get() after its producer was SIGKILLed:
    no other process holds the pipe's write end -- of the tree, nor of the box (every
    process's fds read): nobody can end the wait, a fact. Before, this read "No problems
    found", then "Probably" (the box was not read)."""
    demo = start_demo("dead_producer", python)
    rc, found = snapshot(demo.pid)
    d = one(found, "no_waker")
    collector, producer = demo.truth["collector_pid"], demo.truth["producer_pid"]
    assert rc == 1 and d["severity"] == "error" and d["certainty"] == "fact", d
    assert d["pids"] == [collector, producer] and d["tids"] == [collector], d
    text = " ".join(d["evidence"])
    assert f"pid {collector} itself" in text and f"child pid {producer} killed by SIGKILL" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", ["join", "sleeping"])
def test_a_condition_whose_lock_the_notifier_holds_while_it_joins_the_waiter_is_a_deadlock(python, shape, start_demo):
    """The waiter can be notified only by whoever holds the Condition's lock: when that
    thread joins the waiter, it is a deadlock (fact); a notifier alive and asleep outside
    the `with` is not (no warning, no error)."""
    demo = start_demo("condition_cycle", python, "--shape", shape)
    rc, found = snapshot(demo.pid)
    if shape == "sleeping":
        assert rc == 0 and [d for d in found if d["severity"] != "info"] == [], found
        return
    d = one(found, "deadlock_cycle")
    main, loader = demo.truth["main"], demo.truth["loader"]
    assert rc == 1 and d["severity"] == "error" and d["certainty"] == "fact", d
    assert set(d["tids"]) == {main["tid"], loader["tid"]} and d["pids"] == [demo.pid]
    text = " ".join(d["evidence"])
    assert "waits on a Condition at" in text and "(its RLock's recorded owner): only that thread can notify it" in text, text
    assert "(its Thread object's ident, read from memory)" in text and "leave the `with cond:` block first" in d["fix"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_two_manager_locks_taken_in_opposite_orders_are_probably_a_deadlock(python, start_demo):
    """No owner is recorded by a Manager; every connected client waits on another. Before,
    this read "No problems found"."""
    demo = start_demo("manager_abba", python)
    rc, found = snapshot(demo.pid)
    d = one(found, "deadlock_cycle")
    assert rc == 0 and d["severity"] == "warning" and d["certainty"] == "guess", d
    assert set(demo.truth["worker_pids"]) <= set(d["pids"]), d
