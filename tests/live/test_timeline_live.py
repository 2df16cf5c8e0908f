"""Verdicts over time on real pools, on every installed interpreter: sample a demo
scenario through the LiveSource the TUI and `pooltui snapshot --samples` use (default
capture: no --locals), and check what a person would be told within the default
sampling (3 samples)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from pooltui.analysis.timeline import STUCK_SAMPLES
from pooltui.capture import exits
from pooltui.model import Severity, Snapshot
from tests.conftest import interpreter_params

pytestmark = pytest.mark.live

INTERVAL = 1.0


def sample(pid: int, n: int = STUCK_SAMPLES, between=None) -> list[Snapshot]:  # type: ignore[no-untyped-def]
    """``n`` samples ``INTERVAL`` apart; ``between(i)`` runs after sample i (0-based)."""
    from pooltui.sources import LiveSource

    source = LiveSource(pid)
    out = []
    for i in range(n):
        started = time.monotonic()
        out.append(asyncio.run(source.capture()))
        if between is not None:
            between(i)
        time.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))
    return out


def found(s: Snapshot, kind: str):  # type: ignore[no-untyped-def]
    return [d for d in s.diagnoses if d.kind == kind]


def errors(s: Snapshot):  # type: ignore[no-untyped-def]
    return [(d.kind, d.summary) for d in s.diagnoses if d.severity is Severity.ERROR]


def _gone(pid: int, timeout: float = 10.0) -> None:
    """Until the pool reaped it (no /proc entry)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("python", interpreter_params())
def test_killed_worker_is_a_lost_task_and_a_second_kill_is_seen_dying(python, start_demo):
    demo = start_demo("killed_worker", python)
    truth = demo.truth
    second = truth["busy_pids"][0]

    def kill(i: int) -> None:
        if i == 0:  # a second worker dies mid-task while pooltui watches
            os.kill(second, signal.SIGKILL)
            _gone(second)

    samples = sample(demo.pid, between=kill)
    [first] = found(samples[0], "lost_task")  # the demo's own kill, from one sample: the idle replacement
    assert first.severity is Severity.ERROR and truth["replacement_pid"] in first.pids, first
    events = [(e.kind, e.pid) for s in samples for e in s.events]
    assert ("process_exited", second) in events, events
    # within one refresh: the first sample after the kill has the exit, its replacement and the verdict
    [exited] = [e for e in samples[1].events if (e.kind, e.pid) == ("process_exited", second)]
    assert any(e.kind == "worker_replaced" for e in samples[1].events), samples[1].events
    assert [d for d in found(samples[1], "lost_task") if second in d.pids], samples[1].diagnoses
    # the pool reaped it at once (_gone): how it died is known from the kernel's report of the exit
    assert ("killed by SIGKILL" in exited.detail) == exits.watcher().working, (exited.detail, exits.watcher().reason)
    assert any(kind == "worker_replaced" for kind, _ in events), events
    last = samples[-1]
    watched = [d for d in found(last, "lost_task") if second in d.pids]
    assert watched and watched[0].severity is Severity.ERROR, last.diagnoses
    assert "died while running a task" in watched[0].summary and "fetch_report" in " ".join(watched[0].evidence)
    if exits.watcher().working:
        assert any(e.startswith("gone at") and "killed by SIGKILL" in e for e in watched[0].evidence), watched[0].evidence


@pytest.mark.parametrize("python", interpreter_params())
def test_manager_gone_within_the_default_sampling(python, start_demo):
    demo = start_demo("manager_gone", python)
    samples = sample(demo.pid)
    [d] = found(samples[-1], "manager_gone")
    assert d.severity is Severity.ERROR
    assert set(demo.truth["worker_pids"]) <= set(d.pids)
    text = " ".join(d.evidence)
    assert "Proxy" in text and ("Broken pipe" in text or "BrokenPipeError" in text or "EOFError" in text), text


@pytest.mark.parametrize("python", interpreter_params())
def test_healthy_busy_pool_never_gets_an_error(python, start_demo):
    demo = start_demo("healthy", python)
    samples = sample(demo.pid, 5)
    for s in samples:
        assert not errors(s), errors(s)
        assert not found(s, "stuck_thread"), found(s, "stuck_thread")
    assert {pid for d in found(samples[-1], "busy_spin") for pid in d.pids} <= set(demo.truth["busy_pids"])


@pytest.mark.parametrize("python", interpreter_params(("2.7", "3.12")))
def test_oversubscribed_over_samples(python, start_demo):
    demo = start_demo("oversubscribed", python)
    samples = sample(demo.pid)
    assert found(samples[-1], "oversubscribed"), samples[-1].diagnoses
    assert not any(errors(s) for s in samples)
