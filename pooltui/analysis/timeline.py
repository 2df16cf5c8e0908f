"""Over time: the verdicts only a series of samples can give, and how they correct and
complete each sample's own. Pure functions over a ``History`` of analysed snapshots
(``analysis.history``: each sample with its diff against the one before, computed once).

* events between two samples: ``diff.diff_events`` (processes that appeared, exited,
  were reaped or replaced; threads that started or ended; role changes).
* deaths over time (``analysis.deaths``): ``lost_task``, ``manager_gone``; a crash loop
  (``analysis.faults``).
* per-thread trails (``analysis.stuck``): ``stuck_thread``, ``busy_spin`` (info).
* confirmations: ``pool_hung`` from one snapshot is kept only while its idle workers gain
  no CPU, and ``oversubscribed`` is also judged from CPU gained (py-spy can catch a spinner
  off-CPU).

``conclude(window)`` is what a live source calls on each new sample, the latest of
``window = history.then(sample)``: the sample comes back with its events and every
verdict, single-sample and over time. ``advance(samples, snapshot)`` is the same from a
plain list of earlier samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional, Union

from pooltui.analysis import faults, hangs, roles
from pooltui.analysis.deaths import CARRIED, carried, lost_tasks, managers_gone, other_deaths, retired_parents
from pooltui.analysis.diagnoses import SATURATED, queued, voluntary
from pooltui.analysis.diff import Key, by_key, diff_events, diff_snapshots
from pooltui.analysis.history import HISTORY, History, as_history
from pooltui.analysis.stuck import CPU_EPSILON, STUCK_SAMPLES, busy_spin, stuck_threads
from pooltui.model import Certainty, Diagnosis, Event, Kind, Process, Severity, Snapshot, Timeline, pids_key

__all__ = ["HISTORY", "STUCK_SAMPLES", "advance", "busy_workers", "conclude", "diagnose_over_time", "events_between", "merge", "replay"]


def events_between(a: Snapshot, b: Snapshot) -> tuple[Event, ...]:
    """Everything that happened from sample ``a`` to sample ``b``."""
    return diff_events(diff_snapshots(a, b))


# -- confirmations over time -----------------------------------------------------------
def _workers_gained_cpu(before: Mapping[Key, Process], current: Snapshot, pids: Sequence[int]) -> bool:
    for pid in pids:
        p = current.process(pid)
        old = before.get(p.key) if p is not None else None
        if p is None or old is None or p.cpu_time is None or old.cpu_time is None:
            return True  # not the same worker, or unknown: cannot confirm
        if p.cpu_time - old.cpu_time > CPU_EPSILON:
            return True
    return False


def busy_workers(prev: Snapshot, current: Snapshot, before: Optional[Mapping[Key, Process]] = None) -> list[Process]:
    """Pool/executor workers that were on a CPU for a good share of the last interval, or
    wanted to be for most of it (on a CPU or runnable, waiting for one: ``wanted``) --
    other load on the box takes CPU time from a spinning worker, not its wish to run
    (``before``: ``prev``'s processes by identity, when known already)."""
    seconds = current.created - prev.created
    before = by_key(prev) if before is None else before
    out = []
    for p in current.processes:
        old = before.get(p.key)
        if old is None or p.cpu_time is None or old.cpu_time is None or seconds <= 0:
            continue  # not known
        if p.role in roles.WORKER_ROLES and (p.cpu_time - old.cpu_time >= 0.25 * seconds or wanted(p, old, seconds) >= 0.5 * seconds):
            out.append(p)
    return out


def wanted(p: Process, old: Process, seconds: float) -> float:
    """Seconds of the ``seconds`` since ``old`` that ``p`` ran, or waited runnable for a CPU
    while hardly ever blocking (both samples read it: ``diagnoses.queued``): how much it
    wanted to run."""
    ran = (p.cpu_time or 0.0) - (old.cpu_time or 0.0)
    now, then = voluntary(p), voluntary(old)
    waited = p.runq_time - old.runq_time if p.runq_time is not None and old.runq_time is not None else None
    return ran + queued(waited, now - then if now is not None and then is not None else None, seconds)


def _oversubscribed(prev: Snapshot, current: Snapshot, before: Mapping[Key, Process]) -> Optional[Diagnosis]:
    busy, cpus = busy_workers(prev, current, before), current.cpu_count or 0
    if not cpus or len(busy) <= cpus:
        return None
    seconds = current.created - prev.created
    if sum(wanted(p, before[p.key], seconds) for p in busy) < SATURATED * cpus * seconds:
        return None  # the workers do not fill the CPUs between them: no competition to speak of
    return Diagnosis(
        kind=Kind.OVERSUBSCRIBED,
        certainty=Certainty.FACT,
        subject=pids_key(p.pid for p in busy),
        over_time=True,
        summary=(
            f"{len(busy)} workers competed for the machine's {cpus} CPUs over the last {seconds:.0f} s: they time-slice and each task takes longer."
        ),
        pids=tuple(p.pid for p in busy),
        evidence=tuple(f"pid {p.pid} {p.role_label}: {_share(p, before[p.key], seconds)}" for p in busy),
        fix=f"Size the pool to the CPUs it may use (Pool({cpus}) or os.sched_getaffinity); move I/O-bound work to threads.",
    )


def _share(p: Process, old: Process, seconds: float) -> str:
    ran = (p.cpu_time or 0.0) - (old.cpu_time or 0.0)
    waited = wanted(p, old, seconds) - ran
    queued = f", and {100 * waited / seconds:.0f}% of the time waiting for one" if waited >= 0.05 * seconds else ""
    return f"{100 * ran / seconds:.0f}% of a CPU{queued}"


def diagnose_over_time(history: History, samples: int = STUCK_SAMPLES) -> list[Diagnosis]:
    """Verdicts that need more than one sample (history oldest first, the current last)."""
    if len(history) < 2:
        return []
    return [
        *lost_tasks(history),
        *managers_gone(history),
        *faults.crash_loops(history),
        *stuck_threads(history, samples),
        *busy_spin(history, samples),
    ]


def merge(current: Snapshot, history: History, over_time: Sequence[Diagnosis]) -> tuple[Diagnosis, ...]:
    """The current sample's own verdicts, corrected and completed by what the series shows."""
    prev = history[-2] if len(history) >= 2 else None
    own = list(current.diagnoses)
    if prev is not None:
        # with the clients the sample before saw, still the same processes
        own = [hangs.with_earlier_clients(d, current, prev) if d.kind is Kind.MANAGER_GONE else d for d in own]
        before = history.steps[-2].by_key
        own = [d for d in own if not (d.kind is Kind.POOL_HUNG and _workers_gained_cpu(before, current, d.pids[1:]))]
        moving = _oversubscribed(prev, current, before)
        if moving is not None:  # measured over the interval: it replaces the one-instant guess
            own = [d for d in own if d.kind is not Kind.OVERSUBSCRIBED] + [moving]
    found = [*over_time]
    if prev is not None:  # a guess carried from the last sample gives way to the one this sample makes
        guessed = {d.pids[:1] for d in own if hangs.is_guess(d)}
        # and so does the last sample's word on a gone Manager (not the series'): this sample's names its clients then and now
        fresh = {d.kind for d in own if d.kind is Kind.MANAGER_GONE and d.certainty is not Certainty.GUESS}
        found.extend(
            d
            for d in carried(prev, current, found)
            if not (hangs.is_guess(d) and d.pids[:1] in guessed) and not (d.kind in fresh and not d.over_time)
        )
    if any(d.kind is Kind.CRASH_LOOP for d in found):  # the series counts more deaths than one sample
        own = [d for d in own if d.kind is not Kind.CRASH_LOOP]
    retired = retired_parents(history)
    own = [d for d in own if not (d.kind is Kind.LOST_TASK and d.severity is Severity.WARNING and d.pids[:1] and d.pids[0] in retired)]
    if any(d.kind is Kind.MANAGER_GONE for d in own):  # this sample sees clients failing: the exit seen is not harmless
        found = [d.as_kind(Kind.MANAGER_GONE) if d.kind is Kind.MANAGER_EXITED else d for d in found]
    for kind in CARRIED:  # the series' word on a death replaces the single sample's guess about it
        said = [d for d in found if d.kind is kind and not hangs.is_guess(d)]
        if said:
            own = [d for d in own if d.kind is not kind or (kind is Kind.LOST_TASK and other_deaths(d, said))]
    looping = {d.pids[0] for d in [*found, *own] if d.kind is Kind.CRASH_LOOP and d.pids}  # no task was ever taken: none lost
    found, own = ([d for d in ds if not (d.kind in (Kind.LOST_TASK, Kind.POOL_HUNG) and d.pids[:1] and d.pids[0] in looping)] for ds in (found, own))
    merged = {(d.kind, d.subject or d.summary, d.pids): d for d in [*found, *own]}  # at one severity, what was seen happen first
    return tuple(sorted(merged.values(), key=lambda d: -d.severity.rank))


def conclude(window: History, samples: int = STUCK_SAMPLES) -> Snapshot:
    """The latest sample of ``window`` (analysed) with the events since the sample before
    and every verdict over the samples of ``window``."""
    snapshot = window[-1]
    events = window.steps[-1].events if len(window) >= 2 else ()
    diagnoses = merge(snapshot, window, diagnose_over_time(window, samples))
    return snapshot.with_(events=tuple(events), diagnoses=diagnoses)


def advance(history: Union[History, Sequence[Snapshot]], snapshot: Snapshot, samples: int = STUCK_SAMPLES) -> Snapshot:
    """``snapshot`` (analysed) with the events since the last sample of ``history`` and
    every verdict over the last ``HISTORY`` samples."""
    return conclude(as_history(history).then(snapshot), samples)


def replay(snapshots: Sequence[Snapshot], samples: int = STUCK_SAMPLES) -> Timeline:
    """A timeline from analysed samples (oldest first), each advanced over the ones before."""
    history, done = History(), []
    for s in snapshots:
        window = history.then(s)
        done.append(conclude(window, samples))
        history = window.settled(done[-1])
    return Timeline(snapshots=tuple(done), events=tuple(e for s in done for e in s.events))
