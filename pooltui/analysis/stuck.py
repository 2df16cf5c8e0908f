"""Verdicts over one thread's samples (``analysis.history``): the thread in each sample of
the same process, newest first, is its trail.

* ``stuck_thread``: the same stack in N samples (default 3), no CPU time gained, not
  scheduled (context switches unchanged) and not in a timed wait.
* ``busy_spin`` (info): CPU gained in every interval with the same frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable, Optional

from pooltui.analysis import hangs
from pooltui.analysis.diff import same_stack
from pooltui.analysis.history import History
from pooltui.model import Certainty, Diagnosis, Kind, Process, Snapshot, Thread, WaitKind

STUCK_SAMPLES = 3
CPU_EPSILON = 0.011  # seconds: /proc counts CPU in clock ticks (10 ms)
BUSY_SHARE = 0.25  # of an interval on CPU, to call a thread busy in it (a loaded machine shares its CPUs)

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
    # parked until notified, as an Event's waiter is (an Event is a Condition underneath), or
    # waiting for pool results / a future, whose workers' own state is the story; a Condition
    # whose lock a blocked thread holds is a wait-for edge (a deadlock), not "stuck"
    WaitKind.CONDITION,
)

Sample = tuple[Snapshot, Thread]
Found = tuple[Process, Thread, float, int]  # (process, thread, seconds, samples)


def _trail(history: History, proc: Process, tid: int) -> Iterator[Sample]:
    """The thread in each sample, newest first, as long as it exists in the same process
    (lazily: most threads' runs end at the first older sample)."""
    for s, p in history.trail(proc.key):
        t = p.thread(tid)
        if t is None:
            return
        yield s, t


def _run(trail: Iterator[Sample], goes_on: Callable[[Sample, Sample], bool]) -> tuple[int, float]:
    """How many samples (newest first) the run lasts while ``goes_on(newer, older)``, and
    when its oldest sample was taken."""
    newer = next(trail)
    n, since = 1, newer[0].created
    for older in trail:
        if not goes_on(newer, older):
            break
        n, since, newer = n + 1, older[0].created, older
    return n, since


def _gain(old: Thread, new: Thread) -> Optional[float]:
    return None if old.cpu_time is None or new.cpu_time is None else new.cpu_time - old.cpu_time


def _shape(t: Thread) -> tuple[tuple[str, str], ...]:
    return tuple((f.function, f.file) for f in t.frames if not f.native)  # native frames come and go with `n`


def _still_stuck(newer_sample: Sample, older_sample: Sample) -> bool:
    """The same stack, no CPU gained and not scheduled (its context switches unchanged: a
    loop that sleeps a little each turn gains no CPU to speak of, but is switched in and
    out every turn), never in a timed wait."""
    (_, newer), (_, older) = newer_sample, older_sample
    gain = _gain(older, newer)
    if not same_stack(older, newer) or gain is None or gain > CPU_EPSILON or newer.timed or older.timed:
        return False
    return newer.switches is None or older.switches is None or newer.switches == older.switches


def _still_busy(newer_sample: Sample, older_sample: Sample) -> bool:
    (s_new, newer), (s_old, older) = newer_sample, older_sample
    gain, seconds = _gain(older, newer), s_new.created - s_old.created
    return not (gain is None or seconds <= 0 or gain < BUSY_SHARE * seconds or _shape(older) != _shape(newer))


def _delegates(t: Thread) -> bool:
    """Waits on the pool or on futures: the workers' state is what matters, not this wait."""
    return hangs.awaits_pool(t) or any("concurrent/futures/_base.py" in f.file for f in t.frames[:4])


def _grouped(found: list[Found], kind: Kind, text: Callable[[int, str, float, int], str]) -> list[Diagnosis]:
    """One diagnosis per place (innermost user frame): 64 workers stuck in one call are one story."""
    groups: dict[str, list[Found]] = {}
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


def _runs(history: History, samples: int, keep: Callable[[Thread], bool], goes_on: Callable[[Sample, Sample], bool]) -> list[Found]:
    """(process, thread, seconds, samples) of every thread of the newest snapshot that
    ``keep`` admits and whose run of samples (``goes_on``) lasts ``samples`` or more."""
    current = history[-1]
    found = []
    for p in current.processes:
        for t in p.threads:
            if t.ghost or not t.frames or not keep(t):
                continue
            run, since = _run(_trail(history, p, t.tid), goes_on)
            if run >= samples:
                found.append((p, t, current.created - since, run))
    return found


def stuck_threads(history: History, samples: int = STUCK_SAMPLES) -> list[Diagnosis]:
    found = _runs(history, samples, lambda t: t.wait is not None and t.wait.kind not in _NOT_STUCK and not _delegates(t), _still_stuck)
    return _grouped(
        found,
        Kind.STUCK_THREAD,
        lambda n, place, secs, k: f"{n} thread(s) stuck in {place}: the same stack and no CPU time for {secs:.0f} s ({k} samples).",
    )


def busy_spin(history: History, samples: int = STUCK_SAMPLES) -> list[Diagnosis]:
    return _grouped(
        _runs(history, samples, lambda t: True, _still_busy),
        Kind.BUSY_SPIN,
        lambda n, place, secs, k: f"{n} thread(s) busy on CPU in {place} for {secs:.0f} s ({k} samples), always in the same frames.",
    )
