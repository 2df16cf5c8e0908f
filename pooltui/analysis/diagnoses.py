"""Verdicts over one snapshot: what a person would otherwise need an hour and the
CPython sources for. Each is a ``Diagnosis`` with a sentence, evidence and a fix."""

from __future__ import annotations

from pooltui.analysis import hangs, locks, roles
from pooltui.model import Certainty, Diagnosis, Kind, Snapshot, WaitKind, pids_key


def oversubscribed(snapshot: Snapshot) -> list[Diagnosis]:
    """More pool workers on CPU than the machine has CPUs."""
    cpus = snapshot.cpu_count or 0
    busy = [p for p in snapshot.processes if p.role in roles.WORKER_ROLES and any(t.wait and t.wait.kind is WaitKind.RUNNING for t in p.threads)]
    if not cpus or len(busy) <= cpus:
        return []
    return [
        Diagnosis(
            kind=Kind.OVERSUBSCRIBED,
            certainty=Certainty.FACT,
            subject=pids_key(p.pid for p in busy),
            summary=f"{len(busy)} workers are running on CPU but the machine has {cpus} CPUs: they time-slice and each task takes longer.",
            pids=tuple(p.pid for p in busy),
            evidence=tuple(f"pid {p.pid} {p.role_label}: running" for p in busy),
            fix=f"Size the pool to the CPUs it may use (Pool({cpus}) or os.sched_getaffinity); move I/O-bound work to threads.",
        )
    ]


def unreadable(snapshot: Snapshot) -> list[Diagnosis]:
    """Processes that could not be read, so the picture is incomplete."""
    out = []
    for p in snapshot.processes:
        if p.error is not None and p.error.code not in ("not_python", "process_gone"):
            out.append(
                Diagnosis(
                    kind=Kind.UNREADABLE,
                    certainty=Certainty.FACT,
                    subject=pids_key((p.pid,)),
                    summary=f"pid {p.pid} could not be read: {p.error.message}",
                    pids=(p.pid,),
                    evidence=(p.error.detail,) if p.error.detail else (),
                    fix=p.error.help,
                )
            )
    return out


RULES = (locks.diagnose, *hangs.RULES, oversubscribed, unreadable)


def diagnose(snapshot: Snapshot) -> tuple[Diagnosis, ...]:
    found = [d for rule in RULES for d in rule(snapshot)]
    found.sort(key=lambda d: -d.severity.rank)
    return tuple(found)


def worst_for(snapshot: Snapshot, pid: int) -> Diagnosis | None:
    for d in snapshot.diagnoses:  # sorted most severe first
        if pid in d.pids:
            return d
    return None
