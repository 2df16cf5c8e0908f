"""`pooltui ps`: a ``Census`` (kernel facts of every Python process) made into one row per
process tree, with roles counted and a cheap verdict.

Trees: a process belongs to its parent's tree when it runs the parent's program (a fork
child, a multiprocessing bootstrap, a pre-fork server's worker: ``ProcFacts.joins_parent``,
the rule ``pooltui attach`` uses to find a root), so each root is the pid ``attach`` and
``snapshot`` take. Roles: ``analysis.roles`` over command lines and the tree's shape (no
stacks: a fork child is a ``worker`` until ``snapshot`` reads whose).

The cheap look (``BASIS``) reads no stack and no memory, only what the kernel says of each
thread at two instants: looks hung when nothing that matters ran and the waits have no
timeout (``_quiet_tree``), or when a worker's threads all stand still with its main thread on
a lock of its own (``_stuck_workers``: a server's master ticks on); quiet (not marked) when
every worker waits for a task or only sleeps; zombie children; a stopped process; more
runnable workers than CPUs. It cannot tell an idle pool from one that lost a task: ``pooltui
snapshot ROOT`` gives the real verdict.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from pooltui.analysis import roles
from pooltui.model import Process, Snapshot, exit_text
from pooltui.model.census import (
    UNTIMED_BLOCKS,
    WAIT_FUTEX,
    WAIT_PIPE,
    WAIT_SHARED_FUTEX,
    WAIT_TIMED,
    Census,
    ProcFacts,
    PsTree,
    RoleCount,
    TaskFacts,
    Verdict,
)

BASIS = (
    "a cheap look: each thread's state, context switches and system call read twice {window:.2f} s apart from /proc "
    "(no stack, no memory read); `pooltui snapshot ROOT` gives the real verdict"
)
WORKER = "worker"  # a fork child or multiprocessing bootstrap whose kind (pool, executor) only a stack tells
BUSY_SHARE = 0.5  # a worker that used half a CPU during the window counts as busy (oversubscription)
_MANAGER_ADDRESS = re.compile(r"/pymp-[^/]*/listener-")
_STATES = {"R": "running", "S": "sleeping", "D": "disk wait", "T": "stopped", "t": "stopped", "Z": "zombie", "X": "dead"}


def trees(census: Census) -> list[PsTree]:
    """One row per tree, roots in pid order; an unreadable process is a row of its own."""
    by_pid = {p.pid: p for p in census.processes}
    members: dict[int, list[ProcFacts]] = {}
    for p in census.processes:
        members.setdefault(_root_of(p, by_pid), []).append(p)
    rows = [_tree(census, by_pid[root], group) for root, group in members.items()]
    return sorted(rows, key=lambda t: t.root_pid)


def _root_of(p: ProcFacts, by_pid: dict[int, ProcFacts]) -> int:
    seen = {p.pid}
    while True:
        parent = by_pid.get(p.ppid)
        zombie_child = p.python is None and p.state in ("Z", "X") and parent is not None
        if parent is None or parent.pid in seen or not (p.joins_parent or zombie_child):
            return p.pid
        seen.add(parent.pid)
        p = parent


def _tree(census: Census, root: ProcFacts, group: list[ProcFacts]) -> PsTree:
    age = max(0.0, census.taken - root.create_time)
    if root.error:
        more, state = len(group) - 1, "gone" if root.error == "gone" else "unreadable"
        return PsTree(
            root_pid=root.pid,
            program=program(root) if root.cmdline else root.comm or "?",
            python=root.python,
            pids=tuple(p.pid for p in group),
            roles=(RoleCount(state, len(group)),),
            state=state,
            cpu_percent=0.0,
            age=age,
            error=root.error,
            error_message=root.error_message + (f"; and {_count(more, 'process', 'processes')} of its tree" if more else ""),
        )
    role_of = _roles(root, group)
    counted = Counter(role_of[p.pid] for p in group)
    order = {r: i for i, r in enumerate(role_of[p.pid] for p in sorted(group, key=lambda q: (q.pid != root.pid, q.create_time, q.pid)))}
    cpu = sum(p.cpu_gained for p in group) / census.window * 100 if census.window > 0 else 0.0
    return PsTree(
        root_pid=root.pid,
        program=program(root),
        python=root.python,
        pids=tuple(p.pid for p in group),
        roles=tuple(RoleCount(r, n) for r, n in sorted(counted.items(), key=lambda kv: order[kv[0]])),
        state=_state(group),
        cpu_percent=round(cpu, 1),
        age=age,
        verdicts=tuple(verdicts(census, root, group, role_of)),
    )


def program(p: ProcFacts) -> str:
    """What the tree runs, short: the script, ``-m`` module or program; ``python -c`` for code."""
    name = roles.program_name(p.cmdline) or (p.cmdline[0].rpartition("/")[2] if p.cmdline else p.comm)
    name = name.strip("[]:")  # a process title: "gunicorn: master [app]", "[celeryd: w@h:MainProcess]"
    if name and "-c" in p.cmdline[1:3] and name.startswith("python"):
        return f"{name} -c"
    return name or p.comm or "?"


def _roles(root: ProcFacts, group: list[ProcFacts]) -> dict[int, str]:
    """Each process's role from ``analysis.roles`` (command lines, tree shape), a fork child a
    ``worker`` where nothing more is known without its stack."""
    procs = tuple(
        Process(pid=p.pid, ppid=p.ppid, create_time=p.create_time, name=p.comm, cmdline=p.cmdline, python=p.python or "?", status=p.state)
        for p in group
    )
    named = {p.pid: p.role for p in roles.assign_roles(Snapshot(created=0.0, host="", root_pid=root.pid, processes=procs)).processes}
    out = {}
    for p in group:
        role = named[p.pid]
        if p.python is None and p.state in ("Z", "X"):
            role = "zombie"
        elif any(_MANAGER_ADDRESS.search(path) for path in p.listening):
            role = roles.MANAGER  # listens where a multiprocessing Manager does (its default address on Linux)
        elif p.pid != root.pid and p.joins_parent and role in (roles.OTHER_PYTHON, roles.PARENT, roles.MAIN, roles.MP_CHILD):
            role = WORKER
        elif role == roles.FORKSERVER and named.get(p.ppid) == roles.FORKSERVER:
            role = WORKER  # forked by the forkserver: its command line is the forkserver's
        out[p.pid] = role
    return out


def _state(group: list[ProcFacts]) -> str:
    live = [p for p in group if p.state not in ("Z", "X")]
    if not live:
        return "zombie"
    if any(not _quiet(t) for p in live for t in p.tasks) or any(p.cpu_gained > 0 for p in live):
        return "running"
    if all(p.state in ("T", "t") for p in live):
        return "stopped"
    return _STATES.get(live[0].state, live[0].state or "?")


def _ticks(task: TaskFacts) -> bool:
    """In a wait with a timeout at either read: it wakes by itself (a pool's worker handler
    every 0.1 s, 3.8+), which is not progress."""
    return WAIT_TIMED in (task.wait_before, task.wait)


def _quiet(task: TaskFacts) -> bool:
    """Not scheduled in the window, or only to tick."""
    return not task.ran or _ticks(task)


def _main_task(p: ProcFacts) -> Optional[TaskFacts]:
    return next((t for t in p.tasks if t.tid == p.pid), None)


def verdicts(census: Census, root: ProcFacts, group: list[ProcFacts], role_of: dict[int, str]) -> list[Verdict]:
    out = []
    zombies = [p for p in group if p.state in ("Z", "X")]
    if zombies:
        how = Counter(exit_text(p.exit_code) for p in zombies)
        said = ", ".join(f"{n} {text}" if n > 1 else text for text, n in how.items())
        out.append(Verdict("zombies", f"{_count(len(zombies), 'exited child', 'exited children')} not reaped ({said})", hung=True))
    stopped = [p for p in group if p.state in ("T", "t")]
    if stopped:
        pids = ", ".join(str(p.pid) for p in stopped[:4]) + (", …" if len(stopped) > 4 else "")
        out.append(Verdict("stopped", f"{_count(len(stopped), 'process', 'processes')} stopped (a signal or a debugger): {pids}", hung=True))
    others = [p for p in group if p.pid != root.pid and p.state not in ("Z", "X")]
    workers = [p for p in others if role_of[p.pid] == WORKER or role_of[p.pid] in roles.WORKER_ROLES]
    busy = [p for p in workers if _busy(census, p)]
    if len(busy) > census.cpus:
        out.append(Verdict("oversubscribed", f"{len(busy)} workers want a CPU, {census.cpus} CPUs: they take turns (oversubscribed)", hung=False))
    quiet = _quiet_tree(census, root, workers, others)
    if quiet is not None:
        out.append(quiet)
    elif not any(v.kind == "stopped" for v in out):
        stuck = _stuck_workers(census, workers)
        if stuck is not None:
            out.append(stuck)
    return out


def _stuck_workers(census: Census, workers: list[ProcFacts]) -> Optional[Verdict]:
    """Workers whose main thread waits on a lock private to their process with no timeout while
    none of their threads ran (a pre-fork server's master keeps ticking, so the tree as a
    whole does not stand still): a request or task stuck on a lock, or one held very long.
    An idle pool or server worker waits on a shared lock, a pipe or a poll instead."""
    stuck = []
    for p in workers:
        main = _main_task(p)
        if main is not None and main.wait == WAIT_FUTEX and not main.ran and all(_quiet(t) for t in p.tasks):
            stuck.append(p.pid)
    if not stuck:
        return None
    pids = ", ".join(str(pid) for pid in stuck[:4]) + (", …" if len(stuck) > 4 else "")
    who = f"{_count(len(stuck), 'worker waits', 'workers wait')}"
    theirs = "its" if len(stuck) == 1 else "their"
    text = f"looks hung: {who} on a lock with no timeout (futex) and none of {theirs} threads ran in {census.window:.2f} s: {pids}"
    return Verdict("looks_hung", text, hung=True)


def _busy(census: Census, p: ProcFacts) -> bool:
    """Runnable at both reads (waiting for a CPU counts: on a loaded box that is what
    oversubscription looks like), or half a CPU used in the window."""
    main = _main_task(p)
    runnable = main is not None and main.state == "R" and main.state_after == "R"
    return runnable or (census.window > 0 and p.cpu_gained / census.window >= BUSY_SHARE)


def _quiet_tree(census: Census, root: ProcFacts, workers: list[ProcFacts], others: list[ProcFacts]) -> Optional[Verdict]:
    """Whether nothing that matters ran while the waits have no timeout: the tree looks hung,
    or (a pool whose workers all wait for a task) is quiet, idle or hung as far as the kernel
    can tell.

    With workers: the root's main thread blocks with no timeout and no worker ran. Workers
    blocked in their tasks (a lock, a child, a socket) look hung; workers that wait at the task
    queue (one reads its pipe, the rest wait on its shared lock: SimpleQueue.get / Queue.get)
    are an idle pool or one whose task was lost: only a stack tells. Alone: every thread that
    does not tick in a timed wait waits on a lock, and either two or more do (a deadlock's
    shape) or the only thread waits on a lock private to its process (nobody could release
    it). A thread reading a pipe or socket could be woken from outside: not hung. The helpers
    (resource tracker, forkserver, Manager server) are no workers, but none of them may run."""
    if root.state in ("T", "t") or not root.tasks:
        return None
    main = _main_task(root)
    everyone = [t for p in (root, *others) for t in p.tasks]
    if main is None or main.ran or main.wait not in UNTIMED_BLOCKS or not all(_quiet(t) for t in everyone):
        return None
    window = f"{census.window:.2f} s"
    if workers:
        blocked = [t for p in workers for t in p.tasks if not _ticks(t)]
        waits = Counter(t.wait or "unknown" for t in blocked)
        timed = sum(1 for p in workers for t in p.tasks if _ticks(t))
        said = ", ".join([*(f"{w} ×{n}" for w, n in waits.most_common()), *([f"sleep/timed ×{timed}"] if timed else [])])
        ran = "its worker did not run" if len(workers) == 1 else f"none of {len(workers)} workers ran"
        head = f"the main thread waits ({main.wait}, no timeout) and {ran} in {window} ({said})"
        if not blocked:
            return Verdict("quiet", f"quiet: {head}: the workers only wake from timed waits (a retry or polling loop, or sleeping tasks)", hung=False)
        if waits[WAIT_PIPE] == 1 and waits[WAIT_PIPE] + waits[WAIT_SHARED_FUTEX] == len(blocked):
            return Verdict("quiet", f"quiet: {head}: every worker waits for a task, so idle or a task was lost", hung=False)
        return Verdict("looks_hung", f"looks hung: {head}", hung=True)
    locks = (WAIT_FUTEX, WAIT_SHARED_FUTEX)
    locked = [t for t in root.tasks if t.wait in locks and not t.ran]
    if any(t.wait not in locks and not _ticks(t) for t in root.tasks):
        return None
    if len(locked) >= 2 or (len(root.tasks) == 1 and main.wait == WAIT_FUTEX):
        text = f"looks hung: {_count(len(locked), 'thread waits', 'threads wait')} on locks with no timeout and none ran in {window}"
        return Verdict("looks_hung", text, hung=True)
    return None


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def hung_first(rows: list[PsTree]) -> list[PsTree]:
    """The hung-looking trees first (pid order within), then the rest."""
    return sorted(rows, key=lambda t: (not t.hung, t.root_pid))


def with_basis(census: Census) -> str:
    return BASIS.format(window=census.window)
