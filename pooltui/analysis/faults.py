"""Verdicts about processes that cannot run: stopped by a signal or held by a debugger
(``stopped_holds_pool`` when others wait on them, else ``process_stopped``), and pool
workers that die as they start and are respawned forever (``crash_loop``)."""

from __future__ import annotations

from collections.abc import Sequence

from pooltui.analysis import graph, hangs, roles
from pooltui.model import Certainty, Diagnosis, Exit, Kind, Process, ProcessRole, ProcessStatus, Snapshot, ThreadRole, WaitKind, exit_text, pids_key

STOP_FIX = (
    "Resume it (kill -CONT PID) or detach the debugger holding it (TracerPid); a stopped process keeps its locks and "
    "tasks, so everything waiting on it waits too."
)
CRASH_FIX = (
    "A multiprocessing.Pool respawns a worker whose initializer raises, forever, and map() never returns: fix the "
    "initializer (its traceback is on the pool's stderr), or use concurrent.futures.ProcessPoolExecutor, which raises "
    "BrokenProcessPool instead."
)
CRASH_EXITS = 3  # worker deaths of one pool within the samples kept, to call it a loop
YOUNG = 2.0  # seconds: workers this young, under a parent much older, were (re)started just now


def _who_stops(p: Process, snapshot: Snapshot) -> str:
    if p.tracer_pid:
        tracer = snapshot.process(p.tracer_pid)
        name = f" ({tracer.name})" if tracer is not None and tracer.name else ""
        stopped = " and stopped" if p.status == ProcessStatus.TRACING_STOP else ""
        return f"held by a tracer (TracerPid {p.tracer_pid}{name}: a debugger or strace){stopped}"
    return "stopped by a signal (SIGSTOP or ctrl-z: state T)"


def _waiting_on(p: Process, snapshot: Snapshot) -> list[str]:
    """Why others wait on the stopped ``p``: its task, its locks, its pool, its manager."""
    why = [e.evidence for e in graph.edges(snapshot) if any(t[0] == p.pid for t in e.targets) and e.waiter[0] != p.pid]
    parent = snapshot.process(p.ppid)
    w = hangs.waiter(parent) if p.role == roles.POOL_WORKER and parent is not None else None
    if parent is not None and w is not None and (hangs.in_task(p) or not p.threads):
        why.append(
            f"{parent.role_label} (pid {parent.pid}) waits for pool results ({hangs.where(w)}) and this worker "
            + ("is in a task" if p.threads else "may hold a task")
        )
    if p.role in (roles.POOL_PARENT, roles.MANAGER) or p.pid == snapshot.root_pid:
        users = [c for c in snapshot.children(p.pid) if c.status != ProcessStatus.ZOMBIE]
        if users:
            why.append(
                f"it is the {p.role_label} of {len(users)} process(es) (pids {', '.join(str(c.pid) for c in users[:8])}), "
                "which cannot get work or answers from it"
            )
    return list(dict.fromkeys(why))


def stopped(snapshot: Snapshot) -> list[Diagnosis]:
    out = []
    for p in snapshot.processes:
        if not p.stopped:
            continue
        why = _waiting_on(p, snapshot)
        how = _who_stops(p, snapshot)
        out.append(
            Diagnosis(
                kind=Kind.STOPPED_HOLDS_POOL if why else Kind.PROCESS_STOPPED,
                certainty=Certainty.FACT,
                subject=pids_key((p.pid,)),
                summary=(
                    f"{p.role_label} (pid {p.pid}) is {how}: none of its threads runs"
                    + (", and the pool waits on it: nothing moves until it is resumed." if why else "; nothing waits on it yet.")
                ),
                pids=(p.pid, *dict.fromkeys(q for q in (p.ppid,) if snapshot.process(q) is not None and why)),
                evidence=(f"pid {p.pid}: kernel state {p.status}" + (f", TracerPid {p.tracer_pid}" if p.tracer_pid else ""), *why),
                fix=STOP_FIX,
            )
        )
    return out


def _deaths(history: Sequence[Snapshot], parent: Process) -> list[Exit]:
    """Exits of ``parent``'s children that failed (not exit code 0), seen in the samples kept:
    the kernel's exit reports and zombies not yet reaped."""
    seen: dict[int, Exit] = {}
    for s in history:
        for e in s.exits:
            if e.ppid == parent.pid and e.status != 0:
                seen.setdefault(e.pid, e)
        for z in s.processes:
            if z.ppid == parent.pid and z.status == ProcessStatus.ZOMBIE and z.exit_code is not None and z.exit_code != 0:
                seen.setdefault(z.pid, Exit(z.pid, z.exit_code, s.created, z.ppid))
    return sorted(seen.values(), key=lambda e: e.at)


CRASH_EXITS_BY_CODE = 2  # ... or this many that exited by themselves with a failure code (a raise, sys.exit(1))


def _enough(deaths: Sequence[Exit]) -> int:
    """How many deaths make a loop: a small pool's workers, read in one short capture, may die
    only twice in it. Two that each *exited* with a failure code (an exception in the
    initializer: exit code 1), none killed by a signal (an OOM kill of a working pool is
    lost_task's story), while every worker alive is young, is a loop; otherwise three."""
    by_code = all(e.status is not None and e.status & 0x7F == 0 and e.status >> 8 != 0 for e in deaths)
    return CRASH_EXITS_BY_CODE if by_code else CRASH_EXITS


def _starting(worker: Process) -> bool:
    """Not yet seen past its start, whatever its age: neither waiting for a task in the
    worker loop nor running one (in its initializer, or not readable yet). On a loaded
    machine a respawned worker may take longer than ``YOUNG`` to reach its initializer."""
    if hangs.in_task(worker):
        return False
    return not any(t.wait is not None and t.wait.kind is WaitKind.IDLE for t in worker.threads if not t.ghost)


def crash_looping(snapshot: Snapshot) -> set[int]:
    """Pids of the pool parents ``snapshot`` finds in a crash loop."""
    return {d.pids[0] for d in snapshot.diagnoses if d.kind is Kind.CRASH_LOOP and d.pids}


_POOLISH = (roles.POOL_WORKER, roles.UNREADABLE, ProcessRole.OTHER)  # a worker's roles while it dies young


def crash_suspects(snapshot: Snapshot) -> tuple[int, ...]:
    """Pool parents waiting for results whose workers are all young or starting, and that
    one capture saw a child exit with a failure code too few times for a crash loop (``_enough``)
    -- or none, while no worker is past its start (or none is alive): the next exits are
    worth a moment's wait before the verdict. A capture of a quiet machine takes ~0.1 s, in
    which a crash-looping Pool(2) may lose one worker or none; a healthy pool just started
    pays that moment once."""
    out = []
    for parent in snapshot.processes:
        if hangs.waiter(parent) is None or hangs.handler(parent, ThreadRole.WORKER_HANDLER) is None:
            continue
        deaths = _deaths([snapshot], parent)
        workers = [c for c in snapshot.children(parent.pid) if c.status != ProcessStatus.ZOMBIE and c.role in _POOLISH]
        young = all(snapshot.created - w.create_time < YOUNG or _starting(w) for w in workers)
        starting = all(_starting(w) for w in workers)  # none seen past its start (or none alive at all)
        coded = _enough(deaths) == CRASH_EXITS_BY_CODE  # each exited with a failure code (not killed: lost_task's story)
        if young and (coded and len(deaths) < CRASH_EXITS_BY_CODE if deaths else starting):
            out.append(parent.pid)
    return tuple(out)


def crash_loops(history: Sequence[Snapshot]) -> list[Diagnosis]:
    """A pool whose workers keep dying young while its parent waits for results."""
    current, out = history[-1], []
    for parent in current.processes:
        wait = hangs.waiter(parent)  # a Pool's map()/get(): its role may not show while no worker lives long enough to be read
        if wait is None or hangs.handler(parent, ThreadRole.WORKER_HANDLER) is None:
            continue
        deaths = _deaths(history, parent)
        workers = [c for c in current.children(parent.pid) if c.status != ProcessStatus.ZOMBIE and c.role in _POOLISH]
        young = [w for w in workers if current.created - w.create_time < YOUNG or _starting(w)]
        if wait is None or len(deaths) < _enough(deaths) or (workers and len(young) < len(workers)):
            continue  # some worker lived long enough: deaths of workers in use are lost_task's story
        codes = sorted({exit_text(e.status) for e in deaths})
        out.append(
            Diagnosis(
                kind=Kind.CRASH_LOOP,
                certainty=Certainty.FACT,
                subject=pids_key((parent.pid,)),
                summary=(
                    f"Crash loop: the workers of {parent.role_label} (pid {parent.pid}) die as they start ({', '.join(codes)}) and the "
                    f"pool starts new ones forever — {len(deaths)} deaths seen; {wait.label}'s wait in {hangs.where(wait)} never ends."
                ),
                pids=(parent.pid, *(w.pid for w in workers)),
                tids=(wait.tid,),
                evidence=(
                    *(f"pid {e.pid}: {exit_text(e.status)}" for e in deaths[-6:]),
                    f"{len(workers)} current worker(s), all started less than {YOUNG:.0f} s ago" if workers else "no worker alive at this instant",
                    f"{parent.role_label} (pid {parent.pid}): {wait.label} waits in {hangs.where(wait)}",
                ),
                fix=CRASH_FIX,
            )
        )
    return out
