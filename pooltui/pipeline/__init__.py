"""One refresh of a tree, as one straight line of stages:

    collect -> plan -> fulfil (rounds of facts, closer looks) -> analyze (the rules, once)
            -> history.then + conclude -> [confirmations -> fulfil -> analyze again]

* ``collect``: the ``Collector`` dumps the tree (``capture.dump``: the one place a process
  is dumped, so the one place redaction runs) -- or keeps what it read last time where no
  thread ran since;
* ``plan``: the analysis says, as data (``analysis.plan.Plan``), which facts it needs next:
  lock objects, pipe and socket ends, a lock read again, joins and Condition locks, a
  closer look at a process parked at one place since the last sample;
* ``fulfil``: the collector reads exactly those;
* ``analyze``: roles, waits, holders, then the diagnosis rules, once;
* ``history.then`` + ``timeline.conclude``: the verdicts over time;
* confirmations: only where a verdict asks (a Manager lock's waiters, a deadlock through the
  ends, a closer look at a stuck thread or a replaced worker), read, then analysed a second
  time if they changed what was read.

Every caller runs these same stages: ``sources.LiveSource`` (the TUI, ``pooltui snapshot``
and its ``--samples``), ``scripts/record_fixtures.py``, ``scripts/soak.py``, the benchmarks.
A fake ``Collector`` (tests/unit/test_pipeline.py) runs them over recorded fixtures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Optional, Protocol

from pooltui.analysis import finish, judge, plan, prepare, resolve, timeline
from pooltui.analysis.edge import Node
from pooltui.analysis.history import History
from pooltui.analysis.locks import confirm, resolve_holders
from pooltui.model import CaptureOptions, Lock, Progress, Snapshot
from pooltui.model.record import Record, replace

__all__ = ["Collected", "Collector", "Facts", "Refresh", "fulfil", "read_facts", "refresh"]


class Collected(Record, frozen=True):
    """What ``Collector.collect`` read: the raw tree, and whether every fact read at the last
    refresh still holds (no process was dumped again: its lock facts, ends and joins are kept)."""

    raw: Snapshot
    settled: bool = False


class Collector(Protocol):
    """How the pipeline reads a tree: ``pipeline.live.LiveCollector``, or a fake in tests."""

    async def collect(self, options: CaptureOptions, pids: Optional[Collection[int]], progress: Optional[Progress]) -> Collected:
        """The tree now, dumped and redacted (``pids``: just these dumped again)."""

    async def read_locks(self, raw: Snapshot, wanted: plan.Threads, timeout: float) -> tuple[tuple[Lock, ...], tuple[str, ...]]:
        """The lock objects ``wanted`` threads wait on, and notes on what could not be read."""

    async def read_ends(self, raw: Snapshot) -> Snapshot:
        """``raw`` with every process's pipe and socket ends."""

    async def read_joins(self, raw: Snapshot, wanted: plan.Threads, timeout: float) -> Snapshot:
        """``raw`` with the joined thread / Condition lock holder of ``wanted`` threads."""

    async def woken(self, raw: Snapshot, nodes: Collection[Node]) -> set[Node]:
        """The threads among ``nodes`` that ran, or left the call they were seen in, across a
        short gap (read from the kernel)."""

    async def moved(self, raw: Snapshot, nodes: Collection[Node], watch: float = 0.0) -> Snapshot:
        """``raw`` itself when none of ``nodes`` moved a moment later (or within ``watch``
        seconds), else with those unblocked."""

    async def more_exits(self, raw: Snapshot, parents: tuple[int, ...]) -> Snapshot:
        """``raw`` with the exits of ``parents``' children the kernel reports a moment longer
        (until a second one, or ``DEATHS_WATCH`` seconds)."""

    async def look_closer(
        self, raw: Snapshot, closer: tuple[int, ...], maxtasks: tuple[int, ...], options: CaptureOptions, *, last: bool
    ) -> Snapshot:
        """``raw`` with what a dump with locals of these processes tells (itself when nothing);
        ``last``: the refresh's last look, after which a past look not asked about stops applying."""

    def keep(self, raw: Snapshot, options: CaptureOptions) -> None:
        """What this refresh read, for the next one to reuse."""


class Refresh(Record, frozen=True):
    """One refresh's result: what was read, the analysed sample, the history with it."""

    raw: Snapshot
    snapshot: Snapshot
    history: History


async def fulfil(collector: Collector, raw: Snapshot, wanted: plan.Plan, options: CaptureOptions) -> Snapshot:
    """``raw`` with exactly the facts ``wanted`` asks for read by ``collector``."""
    if wanted.locks:
        # a semaphore taken by no live process: were any of its waiters woken before it is read
        # again (a release always wakes one)? then the second read wins (analysis.locks.confirm)
        woken = await collector.woken(raw, {w for lock in wanted.recheck for w in lock.waiters}) if wanted.recheck else set()
        found, notes = await collector.read_locks(raw, wanted.locks, options.timeout)
        if wanted.recheck:
            found, notes = confirm(raw.locks, found, list(wanted.recheck), woken), ()
        raw = raw.with_(locks=found, notes=raw.notes + notes)
    if wanted.ends:
        raw = await collector.read_ends(raw)
    if wanted.joins:
        raw = await collector.read_joins(raw, wanted.joins, options.timeout)
    if wanted.manager_locks:
        raw = await _manager_confirmed(collector, raw, wanted.manager_locks)
    if wanted.knot:
        raw = await collector.moved(raw, wanted.knot, wanted.watch)
    if wanted.deaths:
        raw = await collector.more_exits(raw, wanted.deaths)
    if wanted.closer or wanted.maxtasks or wanted.look:
        raw = await collector.look_closer(raw, wanted.closer, wanted.maxtasks, options, last=wanted.look)
    return raw


async def _manager_confirmed(collector: Collector, raw: Snapshot, waiters: Mapping[str, tuple[Node, ...]]) -> Snapshot:
    """A Manager lock is ``confirmed`` when none of its waiters moved when read twice more."""
    still = {lock_id: await collector.moved(raw, nodes) is raw for lock_id, nodes in waiters.items()}
    return raw.with_(locks=tuple(replace(lock, confirmed=still[lock.id]) if lock.id in still else lock for lock in raw.locks))


class Facts(Record, frozen=True):
    """What the rounds of facts before the rules read: the raw capture with them, it
    prepared and resolved (holders, no verdict)."""

    raw: Snapshot
    prepared: Snapshot
    resolved: Snapshot


async def read_facts(collector: Collector, raw: Snapshot, prepared: Snapshot, options: CaptureOptions, previous: Optional[Snapshot]) -> Facts:
    """The three rounds of facts before the rules (``prepared``: ``raw`` prepared against
    ``previous``), each planned from what the one before read."""
    first = plan.reads(prepared)
    read = await fulfil(collector, raw, first, options)
    prepared, raw = await asyncio.to_thread(_with_facts, prepared, raw, read, previous), read
    again = plan.rereads(await asyncio.to_thread(resolve_holders, prepared), first.locks)  # holders only: no verdict yet
    if again:
        read = await fulfil(collector, raw, again, options)
        prepared, raw = await asyncio.to_thread(_with_facts, prepared, raw, read, previous), read
    resolved = await asyncio.to_thread(resolve, prepared)
    third = plan.joins(resolved)
    if third:
        read = await fulfil(collector, raw, third, options)
        if read is not raw:
            prepared, raw = await asyncio.to_thread(_with_facts, prepared, raw, read, previous), read
            resolved = await asyncio.to_thread(resolve, prepared)
    return Facts(raw, prepared, resolved)


def _with_facts(prepared: Snapshot, basis: Snapshot, raw: Snapshot, previous: Optional[Snapshot]) -> Snapshot:
    """``prepared`` (``basis`` prepared) with the facts since read into ``raw``: lock facts and
    exits are added as they are (roles and waits look at none); ends, joins and closer looks
    change processes, which are then prepared again."""
    if raw.processes is not basis.processes:
        return prepare(raw, previous)
    return prepared.with_(locks=raw.locks, notes=raw.notes, exits=raw.exits)


async def refresh(
    collector: Collector,
    history: History,
    options: CaptureOptions,
    *,
    pids: Optional[Collection[int]] = None,
    progress: Optional[Progress] = None,
) -> Refresh:
    """One refresh of the tree ``collector`` reads; ``history``: the samples before it."""
    previous = history.latest
    collected = await collector.collect(options, pids, progress)
    raw = collected.raw
    prepared = await asyncio.to_thread(prepare, raw, previous)
    facts = options.locks and not collected.settled
    if facts:
        read = await read_facts(collector, raw, prepared, options, previous)
    else:
        read = Facts(raw, prepared, await asyncio.to_thread(resolve, prepared))
    raw, prepared, resolved = read.raw, read.prepared, read.resolved
    if not options.locals:
        looks = plan.looks(resolved, previous)
        looked = await fulfil(collector, raw, looks, options) if looks else raw
        if looked is not raw:
            prepared, raw = await asyncio.to_thread(_with_facts, prepared, raw, looked, previous), looked
            resolved = await asyncio.to_thread(resolve, prepared)
    snapshot = await asyncio.to_thread(judge, resolved)  # the rules, once
    window = history.then(snapshot)
    snapshot = timeline.conclude(window)
    asked = plan.confirmations(snapshot, previous, facts=facts, look=not options.locals)
    if asked:
        confirmed = await fulfil(collector, raw, asked, options)
        if confirmed is not raw:  # a verdict's confirmation changed what was read: the rules again
            prepared, raw = await asyncio.to_thread(_with_facts, prepared, raw, confirmed, previous), confirmed
            window = history.then(await asyncio.to_thread(finish, prepared))
            snapshot = timeline.conclude(window)
    collector.keep(raw, options)
    return Refresh(raw, snapshot, window.settled(snapshot))
