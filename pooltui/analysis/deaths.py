"""Deaths over time: the processes that left the tree between two samples of a
``History`` (``diff.departed``: as last seen alive, and as they ended when that is
knowable), and what their leaving means.

* ``lost_task``: a pool worker ended while inside a task and the parent still waits.
* ``manager_gone``: a Manager server seen alive is gone while the tree lives on
  (``manager_exited`` when no client is seen using it).
* An error about a death stays while its cause lasts, beyond the samples kept (``carried``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pooltui.analysis import hangs, roles
from pooltui.analysis.history import History
from pooltui.model import Certainty, Diagnosis, Kind, ProcessStatus, Severity, Snapshot, pids_key

CARRIED = (Kind.LOST_TASK, Kind.MANAGER_GONE, Kind.MANAGER_EXITED)


def lost_tasks(history: History) -> list[Diagnosis]:
    """A pool worker seen inside a task ended before the next sample, and its parent waits still."""
    current, out = history[-1], []
    for diff in history.diffs:
        heirs = diff.heirs
        for alive, zombie in diff.departed:
            parent = current.process(alive.ppid)
            wait = hangs.waiter(parent) if parent is not None and parent.role == roles.POOL_PARENT else None
            main = hangs.main_of(alive)  # in_task: there is one
            if alive.role != roles.POOL_WORKER or not hangs.in_task(alive) or wait is None or parent is None or main is None:
                continue
            status = zombie.exit_code if zombie is not None else None
            if status == 0:  # a clean exit: maxtasksperchild retired it after its task
                continue
            certain = status is not None or "None" in (hangs.maxtasks(alive), hangs.pool_maxtasks(current, parent))
            heir = heirs.get(alive.key)
            task = hangs.where(main)
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


def managers_gone(history: History) -> list[Diagnosis]:
    """A Manager server seen alive has exited (or is a zombie) and no other serves now."""
    current, out = history[-1], []
    if hangs.live_managers(current):
        return []
    clients = hangs.manager_clients(current, history[-2])
    for diff in history.diffs:
        for alive, zombie in diff.departed:
            if alive.role != roles.MANAGER:
                continue
            how = zombie.exit_text if zombie is not None else "exit status unknown: its parent reaped it"
            killed = zombie is not None and zombie.exit_code not in (None, 0)
            users = [p for p in current.processes if p.pid in clients] or [
                p
                for p in current.processes
                if p.pid == alive.ppid or (p.ppid == alive.ppid and p.pid != alive.pid and p.status != ProcessStatus.ZOMBIE)
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
    return time.strftime("%H:%M:%S", time.localtime(ts))


def retired_parents(history: History) -> set[int]:
    """Parents one of whose workers was seen exiting cleanly (exit code 0): it retired
    (maxtasksperchild), so a new idle worker there is no sign of a lost task."""
    return {
        alive.ppid
        for diff in history.diffs
        for alive, zombie in diff.departed
        if alive.role == roles.POOL_WORKER and zombie is not None and zombie.exit_code == 0
    }


def other_deaths(guess: Diagnosis, said: Sequence[Diagnosis]) -> bool:
    """A single sample's lost_task (parent, *idle replacements) names a replacement no
    death seen over time (parent, dead worker, heir) accounts for: a death before the first sample."""
    heirs = {pid for d in said for pid in d.pids[2:]}
    return bool(set(guess.pids[1:]) - heirs)


def carried(prev: Snapshot, current: Snapshot, have: Sequence[Diagnosis]) -> list[Diagnosis]:
    """Errors about a death stay while their cause lasts, beyond the samples kept."""
    out = []
    for d in prev.diagnoses:
        if d.kind not in CARRIED or d.severity is not Severity.ERROR or any((h.kind, h.pids) == (d.kind, d.pids) for h in have):
            continue
        if d.kind is Kind.LOST_TASK:
            parent = current.process(d.pids[0]) if d.pids else None
            if parent is None or hangs.waiter(parent) is None:
                continue
        elif hangs.live_managers(current):
            continue
        out.append(d)
    return out
