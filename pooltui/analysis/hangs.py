"""Verdicts about a pool that stopped making progress, from one snapshot: work that will
never complete (``pool_hung``), a worker that was replaced while the parent still waits
(``lost_task``), and manager proxies talking to a server that is gone (``manager_gone``).

The same verdicts over time (a worker seen dying mid-task, a manager seen exiting) are
``analysis.timeline``'s; it uses the helpers here to recognise the shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Optional

from pooltui.analysis import roles
from pooltui.analysis.frames import find, innermost_user, matches
from pooltui.model import Certainty, Diagnosis, Frame, Kind, Process, ProcessStatus, Snapshot, Thread, ThreadRole, WaitKind, pids_key
from pooltui.model.record import replace

REPLACEMENT_GAP = 2.0  # seconds: a worker started this long after its first sibling was not in the Pool's first batch

LOST_TASK_FIX = (
    "multiprocessing.Pool never fails the task of a worker that died: use concurrent.futures.ProcessPoolExecutor "
    "(raises BrokenProcessPool) or map_async(...).get(timeout=...) so the parent notices; find why the worker died "
    "(dmesg for the OOM killer, a segfault in a C extension)."
)
MANAGER_FIX = (
    "The Manager's server process is a single point of failure: restart it with the pool (check dmesg for the OOM killer); "
    "treat EOFError/BrokenPipeError/ConnectionRefusedError from a proxy as fatal for the task instead of retrying forever, "
    "and put a timeout on get(); for plain shared values use multiprocessing.Value/Array or a real datastore."
)

_SERVER_FUNCTIONS = ("serve_forever", "accepter", "serve_client", "handle_request", "_handle_request", "_run_server")
_PROXY = re.compile(r"<(?:\w*Proxy|AutoProxy\[[^\]]*\])\b")
_CONN_ERROR = re.compile(
    r"\b(?:BrokenPipeError|EOFError|ConnectionRefusedError|ConnectionResetError|ConnectionAbortedError)\b"
    r"|\[Errno (?:32|104|111)\]|Broken pipe|Connection refused|Connection reset"
)


def main_of(proc: Process) -> Optional[Thread]:
    """The thread that runs the process's main code (tid == pid), else the first live one."""
    found = proc.thread(proc.pid)
    if found is not None:
        return found
    return next((t for t in proc.threads if not t.ghost), None)


def where(thread: Thread) -> str:
    """The innermost user frame (else the innermost frame) as ``function at file:line``."""
    if not thread.frames:
        return "no frames"
    index = innermost_user(thread.frames)
    f = thread.frames[index if index is not None else 0]
    return f"{f.function} at {f.where}"


def awaits_pool(thread: Thread) -> bool:
    """The thread waits in Pool.map/get/imap/join for the workers' results."""
    if thread.ghost or thread.wait is None or thread.role in _HANDLER_ROLES:
        return False
    if thread.wait.kind in (WaitKind.CONDITION, WaitKind.EVENT):
        return find(thread.frames, "multiprocessing/pool.py", "get", "wait", "next", "__next__") is not None
    return thread.wait.kind is WaitKind.JOIN and find(thread.frames, "multiprocessing/pool.py", "join") is not None


_HANDLER_ROLES = (ThreadRole.WORKER_HANDLER, ThreadRole.TASK_HANDLER, ThreadRole.RESULT_HANDLER)


def waiter(parent: Process) -> Optional[Thread]:
    return next((t for t in parent.threads if awaits_pool(t)), None)


def is_idle_worker(proc: Process) -> bool:
    t = main_of(proc)
    return t is not None and t.wait is not None and t.wait.kind is WaitKind.IDLE


def in_task(proc: Process) -> bool:
    """A worker whose main thread is inside a task (not in its wait-for-work loop)."""
    t = main_of(proc)
    return t is not None and t.wait is not None and t.wait.kind is not WaitKind.IDLE and bool(t.frames)


def pool_workers(snapshot: Snapshot, parent: Process) -> list[Process]:
    return [p for p in snapshot.processes if p.ppid == parent.pid and p.role == roles.POOL_WORKER and p.status != ProcessStatus.ZOMBIE]


def handler(parent: Process, role: str) -> Optional[Thread]:
    return next((t for t in parent.threads if t.role == role), None)


def result_handler_busy(parent: Process) -> Optional[Thread]:
    """The result handler thread when it is not waiting for results from the workers: inside a
    callback of ``apply_async``/``map_async`` (user code it runs for each result) or blocked
    there. The results stop at it, whatever the workers do: only it sets them."""
    t = handler(parent, ThreadRole.RESULT_HANDLER)
    return t if t is not None and not t.ghost and t.wait is not None and t.wait.kind not in (WaitKind.IDLE, WaitKind.RUNNING) else None


def result_handler_lost(parent: Process, wait: Thread) -> bool:
    """``wait`` waits for results (not in ``Pool.join()``, where the result handler ends first
    while the worker handler looks again every 0.1 s), the pool runs (its worker handler is
    there), and no result handler thread exists: it died (``analysis.wakers.no_result_handler``
    says so: nobody can deliver the results)."""
    if wait.wait is None or wait.wait.kind is WaitKind.JOIN:
        return False
    return handler(parent, ThreadRole.WORKER_HANDLER) is not None and handler(parent, ThreadRole.RESULT_HANDLER) is None


def task_handler_drained(parent: Process) -> bool:
    """The task handler waits for new tasks (not blocked handing one to a full pipe)."""
    t = handler(parent, ThreadRole.TASK_HANDLER)
    if t is None or t.wait is None or t.wait.kind is not WaitKind.IDLE:
        return False
    at = find(t.frames, "multiprocessing/pool.py", "_handle_tasks")
    inner = t.frames[: at or 0]
    return not any(matches(f, suffix) for f in inner for suffix in ("connection.py", "queues.py", "synchronize.py"))


def maxtasks(worker: Process) -> Optional[str]:
    """The worker's ``maxtasks`` argument as py-spy --locals shows it ("None", "10"), if captured."""
    t = main_of(worker)
    index = find(t.frames, "multiprocessing/pool.py", "worker") if t is not None else None
    local = t.frames[index].local("maxtasks") if t is not None and index is not None else None
    return local.repr if local is not None else None


def pool_maxtasks(snapshot: Snapshot, parent: Process) -> Optional[str]:
    """The Pool's maxtasksperchild as any of its workers shows it (they all get the same), if read."""
    return next((m for m in (maxtasks(w) for w in pool_workers(snapshot, parent)) if m is not None), None)


def is_replacement(worker: Process, siblings: Iterable[Process]) -> bool:
    """Started by the pool's worker handler to replace an exited worker: a fork child
    shows the handler's frames under ``worker()`` (and one of the first batch ``Pool()``'s
    own); otherwise (spawn, forkserver) it started well after the first batch of its siblings."""
    t = main_of(worker)
    if t is not None and find(t.frames, "multiprocessing/pool.py", "_handle_workers", "_maintain_pool") is not None:
        return True
    if t is not None and find(t.frames, "multiprocessing/pool.py", "__init__") is not None:
        return False  # forked by Pool() itself: its first batch, however late it started (64 forks on a loaded machine)
    first = min((p.create_time for p in siblings), default=worker.create_time)
    return worker.create_time - first >= REPLACEMENT_GAP


def _label(p: Process) -> str:
    return f"{p.role_label} (pid {p.pid})"


def pool_hung(snapshot: Snapshot) -> list[Diagnosis]:
    """The parent waits for results, yet no worker has a task and nothing is left to hand out."""
    out = []
    for parent in snapshot.processes:
        if parent.role != roles.POOL_PARENT or parent.stopped:
            continue  # a stopped parent hands out nothing: stopped_holds_pool says why
        wait, workers = waiter(parent), pool_workers(snapshot, parent)
        if wait is None or not workers or not all(is_idle_worker(w) for w in workers) or not task_handler_drained(parent):
            continue
        if result_handler_lost(parent, wait):
            continue  # its result handler died, not a worker: analysis.wakers.no_result_handler says so
        if result_handler_busy(parent) is not None:
            continue  # the results wait in the result handler, blocked in a callback: a wait-for edge to it (workedges)
        if any(t.active or t.ran for w in workers for t in w.threads) or any(t.active or t.ran for t in parent.threads):
            continue  # someone is on a CPU, or moved when read again: this may be the instant between two tasks
        replaced = [w for w in workers if is_replacement(w, workers)]
        evidence = [
            f"{_label(parent)}: {wait.label} {where(wait)} ({wait.wait.summary if wait.wait else 'waits'})",
            *(f"{_label(w)}: idle, waits for its next task" + (" (a replacement worker)" if w in replaced else "") for w in workers),
            "task handler: idle, no task left to hand to a worker",
        ]
        out.append(
            Diagnosis(
                kind=Kind.POOL_HUNG,
                subject=pids_key((parent.pid,)),
                summary=(
                    f"The pool is hung: {_label(parent)} waits for results, but none of its {len(workers)} workers has a task "
                    "and no task is left to hand out, so the outstanding results will never arrive (a worker died mid-task?)."
                ),
                pids=(parent.pid, *(w.pid for w in workers)),
                tids=(wait.tid,),
                evidence=tuple(evidence),
                fix=LOST_TASK_FIX,
            )
        )
    return out


def hung_threads(snapshot: Snapshot, d: Diagnosis) -> set[tuple[int, int]]:
    """(pid, tid) of every live thread of the processes a ``pool_hung`` names: read again
    (``capture.ends.confirm``) before it stands, as a deadlock through pipes is -- between two
    maps of a busy pool, one instant can show every worker idle and the parent waiting."""
    return {(p.pid, t.tid) for p in snapshot.processes if p.pid in d.pids for t in p.threads if not t.ghost}


def is_guess(d: Diagnosis) -> bool:
    """A lost_task told from one sample (lost_task), not from a death seen over time."""
    return d.kind is Kind.LOST_TASK and not d.over_time


def lost_task(snapshot: Snapshot) -> list[Diagnosis]:
    """A worker was replaced while the parent waits, and the replacement sits idle."""
    out = []
    for parent in snapshot.processes:
        wait = waiter(parent) if parent.role == roles.POOL_PARENT and not parent.stopped else None
        workers = pool_workers(snapshot, parent) if wait is not None else []
        if wait is None or not task_handler_drained(parent):
            continue
        fresh = [w for w in workers if is_replacement(w, workers) and is_idle_worker(w) and maxtasks(w) in (None, "None")]
        if not fresh or all(is_idle_worker(w) for w in workers):
            continue  # all idle: pool_hung says it more strongly
        certain = any(maxtasks(w) == "None" for w in fresh)
        busy = [w for w in workers if in_task(w)]
        recycle = "" if certain else " (unless the pool recycles workers with maxtasksperchild, which also starts new ones)"
        out.append(
            Diagnosis(
                kind=Kind.LOST_TASK,
                certainty=Certainty.INFERRED if certain else Certainty.GUESS,
                subject=pids_key((parent.pid,)),
                summary=(
                    f"A worker of {_label(parent)} was replaced while the parent waits for results{recycle}: the task the old "
                    f"worker was running is lost, so {wait.label}'s wait in {where(wait)} can never end."
                ),
                pids=(parent.pid, *(w.pid for w in fresh)),
                tids=(wait.tid,),
                evidence=(
                    f"{_label(parent)}: {wait.label} {where(wait)}",
                    *(
                        f"{_label(w)}: a replacement worker (started by the pool's worker handler), idle: the lost task is never resent"
                        + ("; maxtasks=None, so the worker it replaced died" if maxtasks(w) == "None" else "")
                        for w in fresh
                    ),
                    *(f"{_label(w)}: still in its task at {where(main)}" for w in busy if (main := main_of(w)) is not None),
                ),
                fix=LOST_TASK_FIX,
            )
        )
    return out


def manager_clients(snapshot: Snapshot, before: Optional[Snapshot] = None) -> dict[int, list[str]]:
    """pid -> why it uses a Manager: a thread inside a proxy call, or proxies among its locals.
    ``before``: the sample before; with no Manager server alive now, a process it saw using
    one that is the same process now stays a client (a worker of a retry loop caught between
    two tries, awake and out of its sleep, holds the same proxies: its code did not change)."""
    out = _clients_now(snapshot)
    return {**out, **_clients_before(snapshot, before, out)} if before is not None else out


def _clients_before(snapshot: Snapshot, before: Snapshot, named: Iterable[int]) -> dict[int, list[str]]:
    """The clients ``before`` saw, not among ``named``, that are the same processes in
    ``snapshot`` where no Manager server is alive, their lines marked as the sample before's."""
    if live_managers(snapshot):
        return {}
    out, named = {}, set(named)
    for pid, lines in _clients_now(before).items():
        now, then = snapshot.process(pid), before.process(pid)
        if pid not in named and now is not None and then is not None and now.key == then.key and now.status != ProcessStatus.ZOMBIE:
            out[pid] = [f"{line} (the sample before)" for line in lines]
    return out


def _clients_now(snapshot: Snapshot) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for p in snapshot.processes:
        if p.role == roles.MANAGER or p.status == ProcessStatus.ZOMBIE:
            continue
        for t in p.threads:
            if t.ghost:
                continue
            call = next((f for f in t.frames if _client_frame(f)), None)
            if call is not None:
                out.setdefault(p.pid, []).append(f"{t.label}: inside a manager call, {call.function} at {call.where}")
                continue
            proxy = next((f"{f.function}: {loc.name} = {loc.repr}" for f in t.frames for loc in f.locals or () if _PROXY.search(loc.repr)), None)
            if proxy is not None:
                out.setdefault(p.pid, []).append(f"{t.label}: holds a manager proxy ({proxy[:120]})")
    return out


def _client_frame(f: Frame) -> bool:
    return not f.native and matches(f, "multiprocessing/managers.py") and not matches(f, "multiprocessing/managers.py", *_SERVER_FUNCTIONS)


def connection_errors(proc: Process) -> list[str]:
    """Locals that show a caught connection failure (BrokenPipeError, EOFError, refused...)."""
    out = []
    for t in proc.threads:
        for f in t.frames:
            for loc in f.locals or ():
                if _CONN_ERROR.search(loc.repr):
                    out.append(f"{f.function} at {f.where}: {loc.name} = {loc.repr[:100]}")
    return out


def live_managers(snapshot: Snapshot) -> list[Process]:
    return [p for p in snapshot.processes if p.role == roles.MANAGER and p.status != ProcessStatus.ZOMBIE]


def manager_gone(snapshot: Snapshot) -> list[Diagnosis]:
    """Manager proxies in use, their calls failing, and no Manager server in the tree."""
    clients = manager_clients(snapshot)
    if not clients or live_managers(snapshot):
        return []
    procs = [p for p in (snapshot.process(pid) for pid in clients) if p is not None]  # clients are processes of the snapshot
    failing = {p.pid: errs for p in procs if (errs := connection_errors(p))}
    zombies = [p for p in snapshot.processes if p.status == ProcessStatus.ZOMBIE]
    # no caught error left among the locals (Python 3 deletes `except ... as e` names): a
    # child of the tree killed by a signal and never reaped is likely the server they used
    killed = [z for z in zombies if z.exit_code is not None and z.exit_code & 0x7F]
    if not failing and not killed:
        return []  # proxies to a server outside this tree (BaseManager.connect) are not ours to judge
    evidence = [f"pid {pid}: {line}" for pid, lines in clients.items() for line in lines[:2]]
    evidence += [f"pid {pid}: {line}" for pid, errs in failing.items() for line in errs[:2]]
    dead = ", ".join(f"pid {z.pid} {z.exit_text}" for z in zombies)
    evidence.append("no process of this tree is a Manager server" + (f" (zombie: {dead})" if zombies else ""))
    return [
        Diagnosis(
            kind=Kind.MANAGER_GONE,
            certainty=Certainty.INFERRED if failing else Certainty.GUESS,
            subject=pids_key(clients),
            summary=_gone_summary(len(clients), bool(failing)),
            pids=tuple(clients),
            evidence=tuple(evidence),
            fix=MANAGER_FIX,
        )
    ]


def _gone_summary(clients: int, failing: bool) -> str:
    lead = "The Manager server is gone" if failing else "Probably the Manager server is gone (a child of the tree was killed and not reaped)"
    fails = "their calls fail" if failing else "their calls would fail"
    return (
        f"{lead}: {clients} process(es) still use its proxies and {fails} "
        "(broken pipe / EOF / refused); nothing they write through the manager is stored, and they will not recover."
    )


def with_earlier_clients(d: Diagnosis, snapshot: Snapshot, before: Snapshot) -> Diagnosis:
    """``manager_gone``'s verdict ``d`` of ``snapshot`` with the clients the sample ``before``
    saw that are still the same processes and not named now (``manager_clients``)."""
    extra = _clients_before(snapshot, before, d.pids)
    if not extra:
        return d
    pids = (*d.pids, *extra)
    evidence = (*d.evidence[:-1], *(f"pid {pid}: {line}" for pid, lines in extra.items() for line in lines[:2]), *d.evidence[-1:])
    return replace(d, pids=pids, evidence=evidence, summary=_gone_summary(len(pids), d.certainty is Certainty.INFERRED))


RULES = (pool_hung, lost_task, manager_gone)
