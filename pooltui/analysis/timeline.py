"""Over time: the events between two samples and the verdicts only a series of samples
can give. Pure functions over analysed snapshots (oldest first).

* events: processes that appeared, exited (with the exit status when it is knowable:
  a zombie's, never a reaped process's), were reaped, replaced (a worker ended and a new
  one appeared under the same parent); threads that started or ended; role changes.
* ``stuck_thread``: the same stack in N samples (default 3), no CPU time gained, not
  scheduled (context switches unchanged) and not in a timed wait.
* ``busy_spin`` (info): CPU gained in every interval with the same frames.
* ``lost_task``: a pool worker ended while inside a task and the parent still waits.
* ``manager_gone``: a Manager server seen alive is gone while the tree lives on.
* ``pool_hung`` from one snapshot is kept only while its idle workers gain no CPU, and
  ``oversubscribed`` is also judged from CPU gained (py-spy can catch a spinner off-CPU).

``advance(history, snapshot)`` is what a live source calls on each new sample: the
sample comes back with its events and every verdict, single-sample and over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

from pooltui.analysis import faults, hangs, roles
from pooltui.analysis.diagnoses import SATURATED
from pooltui.analysis.diff import SnapshotDiff, departed, diff_snapshots, process_events, replacements, same_stack
from pooltui.model import Certainty, Diagnosis, Event, Kind, Process, Severity, Snapshot, Thread, Timeline, WaitKind, pids_key

STUCK_SAMPLES = 3
HISTORY = 20  # samples kept for the verdicts over time; errors already found are carried on beyond it
CPU_EPSILON = 0.011  # seconds: /proc counts CPU in clock ticks (10 ms)
BUSY_SHARE = 0.25  # of an interval on CPU, to call a thread busy in it (a loaded machine shares its CPUs)
CARRIED = (Kind.LOST_TASK, Kind.MANAGER_GONE, Kind.MANAGER_EXITED)

# waits that are a thread's ordinary rest, or that wait on other threads/processes whose
# own state is the story: not "stuck" however long they last
_NOT_STUCK = (
    WaitKind.IDLE,
    WaitKind.RUNNING,
    WaitKind.SELECT,
    WaitKind.QUEUE_GET,
    WaitKind.GIL,
    WaitKind.JOIN,
    WaitKind.SLEEP,  # a timed wait
    WaitKind.EVENT,  # a thread parked until someone sets it (a shutdown signal): its ordinary rest
)


# -- events --------------------------------------------------------------------------
def _readable(p: Process) -> bool:
    return p.error is None and bool(p.threads) and p.status != "zombie"


def thread_events(diff: SnapshotDiff) -> list[Event]:
    when, out = diff.after.created, []
    for pd in diff.kept:
        if not (_readable(pd.before) and _readable(pd.after)):
            continue  # unreadable on one side: its threads did not come and go
        for t in pd.threads:
            if t.thread.ghost:
                continue
            if t.change.value == "new":
                out.append(Event(when, "thread_new", pd.pid, f"{pd.after.role_label} (pid {pd.pid}): thread {_thread(t.thread)} started"))
            elif t.change.value == "gone":
                out.append(Event(when, "thread_gone", pd.pid, f"{pd.after.role_label} (pid {pd.pid}): thread {_thread(t.thread)} ended"))
    return out


def role_events(diff: SnapshotDiff) -> list[Event]:
    return [
        Event(diff.after.created, "role_changed", pd.pid, f"pid {pd.pid}: {pd.before.role_label} → {pd.after.role_label}")
        for pd in diff.kept
        if pd.before.role != pd.after.role and _readable(pd.before) and _readable(pd.after)
    ]


def events_between(a: Snapshot, b: Snapshot) -> tuple[Event, ...]:
    """Everything that happened from sample ``a`` to sample ``b``."""
    diff = diff_snapshots(a, b)
    return (*process_events(diff), *role_events(diff), *thread_events(diff))


def _thread(t: Thread) -> str:
    return f"'{t.name}' (tid {t.tid})" if t.name else f"tid {t.tid}"


# -- per-thread history --------------------------------------------------------------
_BY_KEY: dict[int, tuple[Snapshot, dict[tuple[int, float], Process]]] = {}  # id(snapshot) -> (it, its processes by key)


def _process_in(s: Snapshot, key: tuple[int, float]) -> Optional[Process]:
    """``s``'s process of identity ``key``: indexed once per snapshot, since the history is
    searched for every thread of every process on each refresh."""
    hit = _BY_KEY.get(id(s))
    if hit is None or hit[0] is not s:
        if len(_BY_KEY) >= 64:
            _BY_KEY.clear()
        hit = _BY_KEY[id(s)] = (s, {p.key: p for p in s.processes})
    return hit[1].get(key)


def _trail(history: Sequence[Snapshot], proc: Process, tid: int) -> list[tuple[Snapshot, Thread]]:
    """The thread in each sample, newest first, as long as it exists in the same process."""
    out = []
    for s in reversed(history):
        p = _process_in(s, proc.key)
        t = p.thread(tid) if p is not None else None
        if t is None:
            break
        out.append((s, t))
    return out


def _gain(old: Thread, new: Thread) -> Optional[float]:
    return None if old.cpu_time is None or new.cpu_time is None else new.cpu_time - old.cpu_time


def _shape(t: Thread) -> tuple[tuple[str, str], ...]:
    return tuple((f.function, f.file) for f in t.frames if not f.native)  # native frames come and go with `n`


def _stuck_run(trail: list[tuple[Snapshot, Thread]]) -> int:
    """Samples (newest first) with the same stack, no CPU gained and not scheduled (its
    context switches unchanged: a loop that sleeps a little each turn gains no CPU to
    speak of, but is switched in and out every turn), never in a timed wait."""
    n = 1
    for (_, newer), (_, older) in zip(trail, trail[1:]):
        gain = _gain(older, newer)
        if not same_stack(older, newer) or gain is None or gain > CPU_EPSILON or newer.timed or older.timed:
            break
        if newer.switches is not None and older.switches is not None and newer.switches != older.switches:
            break
        n += 1
    return n


def _busy_run(trail: list[tuple[Snapshot, Thread]]) -> int:
    n = 1
    for (s_new, newer), (s_old, older) in zip(trail, trail[1:]):
        gain, seconds = _gain(older, newer), s_new.created - s_old.created
        if gain is None or seconds <= 0 or gain < BUSY_SHARE * seconds or _shape(older) != _shape(newer):
            break
        n += 1
    return n


def _delegates(t: Thread) -> bool:
    """Waits on the pool or on futures: the workers' state is what matters, not this wait."""
    return hangs.awaits_pool(t) or any("concurrent/futures/_base.py" in f.file for f in t.frames[:4])


def _grouped(found: list[tuple[Process, Thread, float, int]], kind: Kind, text) -> list[Diagnosis]:  # type: ignore[no-untyped-def]
    """One diagnosis per place (innermost user frame): 64 workers stuck in one call are one story."""
    groups: dict[str, list[tuple[Process, Thread, float, int]]] = {}
    for item in found:
        groups.setdefault(hangs.where(item[1]), []).append(item)
    out = []
    for place, items in groups.items():
        seconds = min(i[2] for i in items)
        samples = min(i[3] for i in items)
        out.append(
            Diagnosis(
                kind=kind,
                certainty=Certainty.FACT,
                subject="threads " + ",".join(f"{p.pid}/{t.tid}" for p, t, *_ in sorted(items, key=lambda i: (i[0].pid, i[1].tid))),
                over_time=True,
                summary=text(len(items), place, seconds, samples),
                pids=tuple(dict.fromkeys(p.pid for p, *_ in items)),
                tids=tuple(t.tid for _, t, *_ in items),
                evidence=tuple(f"{p.role_label} (pid {p.pid}) {t.label}: {t.wait.summary if t.wait else hangs.where(t)}" for p, t, *_ in items[:8])
                + ((f"… and {len(items) - 8} more",) if len(items) > 8 else ()),
                fix=_FIX[kind],
            )
        )
    return out


_FIX = {
    Kind.STUCK_THREAD: (
        "Look at what the stack waits for (lock holder, remote call, child process); put timeouts on blocking calls "
        "(Lock.acquire(timeout=...), get(timeout=...), socket timeouts) so a stuck call fails instead of hanging."
    ),
    Kind.BUSY_SPIN: "Usually fine for CPU-bound work; if the loop should be waiting, it is a busy-wait: block on an Event/Condition instead.",
}


def _runs(history: Sequence[Snapshot], samples: int, keep, run_of) -> list:  # type: ignore[no-untyped-def]
    """(process, thread, seconds, samples) of every thread of the newest snapshot that
    ``keep`` admits and whose trail ``run_of`` measures at ``samples`` or more."""
    current = history[-1]
    found = []
    for p in current.processes:
        for t in p.threads:
            if t.ghost or not t.frames or not keep(t):
                continue
            trail = _trail(history, p, t.tid)
            run = run_of(trail)
            if run >= samples:
                found.append((p, t, current.created - trail[run - 1][0].created, run))
    return found


def stuck_threads(history: Sequence[Snapshot], samples: int = STUCK_SAMPLES) -> list[Diagnosis]:
    found = _runs(history, samples, lambda t: t.wait is not None and t.wait.kind not in _NOT_STUCK and not _delegates(t), _stuck_run)
    return _grouped(
        found,
        Kind.STUCK_THREAD,
        lambda n, place, secs, k: f"{n} thread(s) stuck in {place}: the same stack and no CPU time for {secs:.0f} s ({k} samples).",
    )


def busy_spin(history: Sequence[Snapshot], samples: int = STUCK_SAMPLES) -> list[Diagnosis]:
    return _grouped(
        _runs(history, samples, lambda t: True, _busy_run),
        Kind.BUSY_SPIN,
        lambda n, place, secs, k: f"{n} thread(s) busy on CPU in {place} for {secs:.0f} s ({k} samples), always in the same frames.",
    )


# -- deaths over time ----------------------------------------------------------------
def _pairs(history: Sequence[Snapshot]):  # type: ignore[no-untyped-def]
    return (diff_snapshots(a, b) for a, b in zip(history, history[1:]))


def lost_tasks(history: Sequence[Snapshot]) -> list[Diagnosis]:
    """A pool worker seen inside a task ended before the next sample, and its parent waits still."""
    current, out = history[-1], []
    for diff in _pairs(history):
        heirs = {old.key: new for old, new in replacements(diff)}
        for alive, zombie in departed(diff):
            parent = current.process(alive.ppid)
            wait = hangs.waiter(parent) if parent is not None and parent.role == roles.POOL_PARENT else None
            if alive.role != roles.POOL_WORKER or not hangs.in_task(alive) or wait is None or parent is None:
                continue
            status = zombie.exit_code if zombie is not None else None
            if status == 0:  # a clean exit: maxtasksperchild retired it after its task
                continue
            certain = status is not None or "None" in (hangs.maxtasks(alive), hangs.pool_maxtasks(current, parent))
            heir = heirs.get(alive.key)
            task = hangs.where(hangs.main_of(alive))  # type: ignore[arg-type]
            how = zombie.exit_text if zombie is not None else "exit status unknown: its parent reaped it first"
            caveat = "" if certain else " (unless it had just finished the task and retired under maxtasksperchild)"
            out.append(
                Diagnosis(
                    kind=Kind.LOST_TASK,
                    certainty=Certainty.FACT if status is not None else Certainty.INFERRED if certain else Certainty.GUESS,
                    subject=pids_key((parent.pid,)),
                    over_time=True,
                    summary=(
                        f"{alive.role_label} (pid {alive.pid}) died while running a task ({task}){caveat}; "
                        f"{parent.role_label} (pid {parent.pid}) still waits for results, and the pool will never resend that task."
                    ),
                    pids=(parent.pid, alive.pid, *((heir.pid,) if heir else ())),
                    tids=(wait.tid,),
                    evidence=(
                        f"last seen alive at {_clock(diff.before.created)} in {task}",
                        f"gone at {_clock(diff.after.created)}: {how}",
                        *((f"replaced by {heir.role_label} (pid {heir.pid})",) if heir else ()),
                        f"{parent.role_label} (pid {parent.pid}): {wait.label} still waits in {hangs.where(wait)}",
                    ),
                    fix=hangs.LOST_TASK_FIX,
                )
            )
    return out


def managers_gone(history: Sequence[Snapshot]) -> list[Diagnosis]:
    """A Manager server seen alive has exited (or is a zombie) and no other serves now."""
    current, out = history[-1], []
    if hangs.live_managers(current):
        return []
    clients = hangs.manager_clients(current)
    for diff in _pairs(history):
        for alive, zombie in departed(diff):
            if alive.role != roles.MANAGER:
                continue
            how = zombie.exit_text if zombie is not None else "exit status unknown: its parent reaped it"
            killed = zombie is not None and zombie.exit_code not in (None, 0)
            users = [p for p in current.processes if p.pid in clients] or [
                p for p in current.processes if p.pid == alive.ppid or (p.ppid == alive.ppid and p.pid != alive.pid and p.status != "zombie")
            ]
            out.append(
                Diagnosis(
                    kind=Kind.MANAGER_GONE if killed or clients else Kind.MANAGER_EXITED,
                    certainty=Certainty.FACT,
                    subject=pids_key((alive.pid,)),
                    over_time=True,
                    summary=(
                        f"The Manager server (pid {alive.pid}) exited ({how}) while the pool lives on: every call through its proxies "
                        "now fails with EOFError/BrokenPipeError/ConnectionRefusedError, and nothing restarts it."
                    ),
                    pids=(alive.pid, *(p.pid for p in users)),
                    evidence=(
                        f"manager server pid {alive.pid} last seen alive at {_clock(diff.before.created)}",
                        f"gone at {_clock(diff.after.created)}: {how}",
                        *(f"pid {pid}: {line}" for pid, lines in clients.items() for line in lines[:1]),
                    ),
                    fix=hangs.MANAGER_FIX,
                )
            )
    return out


def _clock(ts: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(ts))


# -- confirmations over time -----------------------------------------------------------
def _workers_gained_cpu(prev: Snapshot, current: Snapshot, pids: Sequence[int]) -> bool:
    before = {p.key: p for p in prev.processes}
    for pid in pids:
        p = current.process(pid)
        old = before.get(p.key) if p is not None else None
        if p is None or old is None or p.cpu_time is None or old.cpu_time is None:
            return True  # not the same worker, or unknown: cannot confirm
        if p.cpu_time - old.cpu_time > CPU_EPSILON:
            return True
    return False


def busy_workers(prev: Snapshot, current: Snapshot) -> list[Process]:
    """Pool/executor workers that were on a CPU for a good share of the last interval."""
    seconds = current.created - prev.created
    before = {p.key: p for p in prev.processes}
    out = []
    for p in current.processes:
        old = before.get(p.key)
        known = old is not None and p.cpu_time is not None and old.cpu_time is not None and seconds > 0
        if known and p.role in roles.WORKER_ROLES and p.cpu_time - old.cpu_time >= 0.25 * seconds:  # type: ignore[operator,union-attr]
            out.append(p)
    return out


def _oversubscribed(prev: Snapshot, current: Snapshot) -> Optional[Diagnosis]:
    busy, cpus = busy_workers(prev, current), current.cpu_count or 0
    if not cpus or len(busy) <= cpus:
        return None
    seconds = current.created - prev.created
    before = {p.key: p for p in prev.processes}
    used = sum((p.cpu_time or 0.0) - (before[p.key].cpu_time or 0.0) for p in busy)
    if used < SATURATED * cpus * seconds:
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
        evidence=tuple(
            f"pid {p.pid} {p.role_label}: {100 * (p.cpu_time - before[p.key].cpu_time) / seconds:.0f}% of a CPU"  # type: ignore[operator]
            for p in busy
        ),
        fix=f"Size the pool to the CPUs it may use (Pool({cpus}) or os.sched_getaffinity); move I/O-bound work to threads.",
    )


def diagnose_over_time(history: Sequence[Snapshot], samples: int = STUCK_SAMPLES) -> list[Diagnosis]:
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


def merge(current: Snapshot, history: Sequence[Snapshot], over_time: Sequence[Diagnosis]) -> tuple[Diagnosis, ...]:
    """The current sample's own verdicts, corrected and completed by what the series shows."""
    prev = history[-2] if len(history) >= 2 else None
    own = list(current.diagnoses)
    if prev is not None:
        own = [d for d in own if not (d.kind == "pool_hung" and _workers_gained_cpu(prev, current, d.pids[1:]))]
        moving = _oversubscribed(prev, current)
        if moving is not None:  # measured over the interval: it replaces the one-instant guess
            own = [d for d in own if d.kind is not Kind.OVERSUBSCRIBED] + [moving]
    found = [*over_time]
    if prev is not None:  # a guess carried from the last sample gives way to the one this sample makes
        guessed = {d.pids[:1] for d in own if hangs.is_guess(d)}
        found.extend(d for d in _carried(prev, current, found) if not (hangs.is_guess(d) and d.pids[:1] in guessed))
    if any(d.kind is Kind.CRASH_LOOP for d in found):  # the series counts more deaths than one sample
        own = [d for d in own if d.kind is not Kind.CRASH_LOOP]
    retired = _retired_parents(history)
    own = [d for d in own if not (d.kind == "lost_task" and d.severity is Severity.WARNING and d.pids[:1] and d.pids[0] in retired)]
    if any(d.kind is Kind.MANAGER_GONE for d in own):  # this sample sees clients failing: the exit seen is not harmless
        found = [replace(d, kind=Kind.MANAGER_GONE, severity=None) if d.kind is Kind.MANAGER_EXITED else d for d in found]
    for kind in CARRIED:  # the series' word on a death replaces the single sample's guess about it
        said = [d for d in found if d.kind == kind and not hangs.is_guess(d)]
        if said:
            own = [d for d in own if d.kind != kind or (kind == "lost_task" and _other_deaths(d, said))]
    merged = {(d.kind, d.subject or d.summary, d.pids): d for d in [*found, *own]}  # at one severity, what was seen happen first
    return tuple(sorted(merged.values(), key=lambda d: -d.severity.rank))


def _other_deaths(guess: Diagnosis, said: Sequence[Diagnosis]) -> bool:
    """A single sample's lost_task (parent, *idle replacements) names a replacement no
    death seen over time (parent, dead worker, heir) accounts for: a death before the first sample."""
    heirs = {pid for d in said for pid in d.pids[2:]}
    return bool(set(guess.pids[1:]) - heirs)


def _carried(prev: Snapshot, current: Snapshot, have: Sequence[Diagnosis]) -> list[Diagnosis]:
    """Errors about a death stay while their cause lasts, beyond the samples kept."""
    out = []
    for d in prev.diagnoses:
        if d.kind not in CARRIED or d.severity is not Severity.ERROR or any((h.kind, h.pids) == (d.kind, d.pids) for h in have):
            continue
        if d.kind == "lost_task":
            parent = current.process(d.pids[0]) if d.pids else None
            if parent is None or hangs.waiter(parent) is None:
                continue
        elif hangs.live_managers(current):
            continue
        out.append(d)
    return out


def _retired_parents(history: Sequence[Snapshot]) -> set[int]:
    """Parents one of whose workers was seen exiting cleanly (exit code 0): it retired
    (maxtasksperchild), so a new idle worker there is no sign of a lost task."""
    return {
        alive.ppid
        for diff in _pairs(history)
        for alive, zombie in departed(diff)
        if alive.role == roles.POOL_WORKER and zombie is not None and zombie.exit_code == 0
    }


def advance(history: Sequence[Snapshot], snapshot: Snapshot, samples: int = STUCK_SAMPLES) -> Snapshot:
    """``snapshot`` (analysed) with the events since the last sample of ``history`` and
    every verdict over the last ``HISTORY`` samples."""
    window = (*history[-(HISTORY - 1) :], snapshot)
    events = events_between(history[-1], snapshot) if history else ()
    diagnoses = merge(snapshot, window, diagnose_over_time(window, samples))
    return snapshot.with_(events=tuple(events), diagnoses=diagnoses)


def replay(snapshots: Sequence[Snapshot], samples: int = STUCK_SAMPLES) -> Timeline:
    """A timeline from analysed samples (oldest first), each advanced over the ones before."""
    done: list[Snapshot] = []
    for s in snapshots:
        done.append(advance(done, s, samples))
    return Timeline(snapshots=tuple(done), events=tuple(e for s in done for e in s.events))
