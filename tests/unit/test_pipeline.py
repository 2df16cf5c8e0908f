"""One refresh through ``pooltui.pipeline`` over a fake collector fed from recorded
fixtures: the stages run in their order (collect, the planned reads, the rules once, the
confirmations a verdict asks for, the rules once more only if those changed what was read),
and the rules (``analysis.diagnoses.diagnose``) run once or twice per refresh, never once
per fact read."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Optional

import pytest

from pooltui import pipeline
from pooltui.analysis import diagnoses
from pooltui.analysis.edge import Node
from pooltui.analysis.history import History
from pooltui.analysis.plan import Threads
from pooltui.capture.snapshot import CaptureOptions, Progress
from pooltui.model import Kind, Lock, Snapshot, replace
from tests.conftest import load_fixture

READS = ("read_locks", "read_ends", "read_joins")


class FakeCollector:
    """Answers every stage from one recorded raw capture (which holds its lock facts, ends
    and joins as they were read), logging each call in ``log``."""

    def __init__(self, recorded: Snapshot, log: list[str]) -> None:
        self.recorded, self.log = recorded, log
        self.kept: Optional[Snapshot] = None

    async def collect(self, options: CaptureOptions, pids: Optional[Collection[int]], progress: Optional[Progress]) -> pipeline.Collected:
        self.log.append("collect")
        return pipeline.Collected(self.recorded.with_(locks=(), notes=()))  # lock facts are read when planned

    async def read_locks(self, raw: Snapshot, wanted: Threads, timeout: float) -> tuple[tuple[Lock, ...], tuple[str, ...]]:
        self.log.append("read_locks")
        return self.recorded.locks, self.recorded.notes

    async def read_ends(self, raw: Snapshot) -> Snapshot:
        self.log.append("read_ends")
        return raw.with_(processes=tuple(raw.processes))  # read: the recorded ends are in its processes

    async def read_joins(self, raw: Snapshot, wanted: Threads, timeout: float) -> Snapshot:
        self.log.append("read_joins")
        return raw.with_(processes=tuple(raw.processes))

    async def woken(self, raw: Snapshot, nodes: Collection[Node]) -> set[Node]:
        self.log.append("woken")
        return set()  # no waiter ran: the recorded facts stand

    async def moved(self, raw: Snapshot, nodes: Collection[Node], watch: float = 0.0) -> Snapshot:
        self.log.append("moved")
        return raw  # nothing moved: the recorded verdicts stand

    async def more_exits(self, raw: Snapshot, parents: tuple[int, ...]) -> Snapshot:
        self.log.append("more_exits")
        return raw

    async def look_closer(
        self, raw: Snapshot, closer: tuple[int, ...], maxtasks: tuple[int, ...], options: CaptureOptions, *, last: bool
    ) -> Snapshot:
        self.log.append("look_closer" if last else "look_closer_parked")
        if closer and not last:
            return raw.with_(processes=tuple(raw.processes))  # as if the look found telling locals
        return raw

    def keep(self, raw: Snapshot, options: CaptureOptions) -> None:
        self.log.append("keep")
        self.kept = raw


@pytest.fixture
def log(monkeypatch):  # type: ignore[no-untyped-def]
    """The stages in the order they ran; a run of the diagnosis rules logs "rules"."""
    calls: list[str] = []
    rules = diagnoses.diagnose

    def counted(snapshot):  # type: ignore[no-untyped-def]
        calls.append("rules")
        return rules(snapshot)

    monkeypatch.setattr(diagnoses, "diagnose", counted)
    return calls


def refresh(name: str, log: list[str], options: CaptureOptions = CaptureOptions()) -> tuple[pipeline.Refresh, FakeCollector]:
    recorded, _ = load_fixture(name)
    collector = FakeCollector(recorded, log)
    return asyncio.run(pipeline.refresh(collector, History(), options)), collector


@pytest.mark.parametrize("name", ["abba-py3.12", "global_abba-py3.12", "mp_abba-py3.12", "dead_holder-py3.12", "healthy-py3.12", "condition-py3.12"])
def test_reads_come_before_the_rules_which_run_once(name, log):
    done, collector = refresh(name, log)
    assert log[0] == "collect" and log[-1] == "keep"
    first_rules = log.index("rules")
    assert all(i < first_rules for i, step in enumerate(log) if step in READS), log  # every planned read before the rules
    assert log.count("rules") == 1, log  # nothing moved, no closer look found anything: once
    assert log.count("read_locks") <= 2  # a semaphore taken by no live process is read twice, no more
    assert collector.kept is done.raw


def test_a_lock_wait_plans_a_lock_read_and_a_healthy_pool_plans_none(log):
    refresh("abba-py3.12", log)
    assert "read_locks" in log
    log.clear()
    refresh("healthy-py3.12", log)
    assert [s for s in log if s in READS] == []


def test_a_manager_lock_verdict_is_confirmed_then_the_rules_run_a_second_time(log):
    done, _ = refresh("manager_lock-py3.12", log)
    first, second = (i for i, step in enumerate(log) if step == "rules")
    assert log.count("rules") == 2, log
    assert "moved" in log[first:second], log  # its waiters read again between the two runs
    assert all(i < first for i, step in enumerate(log) if step in READS), log
    assert any(lock.confirmed for lock in done.raw.locks if lock.manager is not None)
    assert Kind.ABANDONED_LOCK in {d.kind for d in done.snapshot.diagnoses}


def test_without_lock_facts_nothing_is_read(log):
    refresh("abba-py3.12", log, replace(CaptureOptions(), locks=False))
    assert [s for s in log if s in READS or s == "moved"] == []
    assert log.count("rules") == 1


def test_with_locals_no_closer_look_is_asked(log):
    refresh("manager_gone-py3.12", log, replace(CaptureOptions(), locals=True))
    assert "look_closer" not in log


def test_a_process_parked_since_the_last_sample_is_looked_at_before_the_rules(log):
    recorded, _ = load_fixture("abba-py3.12")
    collector = FakeCollector(recorded, log)
    first = asyncio.run(pipeline.refresh(collector, History(), CaptureOptions()))
    log.clear()
    asyncio.run(pipeline.refresh(collector, first.history, CaptureOptions()))  # the same stacks again: parked
    assert "look_closer_parked" in log, log
    assert log.index("look_closer_parked") < log.index("rules"), log
    assert log.count("rules") == 1, log  # what the look found is analysed with the rest, once
