"""Tie py-spy's threads to the live OS threads of a process.

py-spy reports each Python thread's pthread ident and, when it can, its OS thread id.
Sometimes it cannot (CPython 2.7 often; then every thread has os_thread_id 0), and a
2.7 fork child also carries the parent's thread states for threads that do not exist
in it ("fork ghosts": 3.x deletes them after fork). Their stacks are still evidence:
they show what those threads were doing at fork() time, e.g. holding a lock.

glibc places a thread's descriptor (its pthread ident) at the top of the thread's own
stack mapping, so a live thread's stack pointer (/proc/PID/task/TID/syscall) and its
ident fall in the same mapping: that ties ident -> tid without py-spy. Idents left in
no live thread's stack mapping belong to threads that no longer exist -- except the
main thread's, which lives in the initial TLS block, not in a guarded thread stack
(unless the process was forked from a non-main thread: then its one task runs on that
thread's stack, and the stack pointer finds it like any other).
"""

from __future__ import annotations

import time
from typing import Optional

from pooltui.capture import memory, procs
from pooltui.capture.errors import CaptureError
from pooltui.model import Frame, Thread
from pooltui.model.record import replace


def _on_child_path(frame: Frame) -> bool:
    return "multiprocessing" in frame.file and frame.function.endswith(("_bootstrap", "_launch"))


def _stack_owners(pid: int, tids: set[int]) -> tuple[list[tuple[memory.Mapping, int]], list[memory.Mapping]]:
    """(mapping, tid) for each live thread whose stack pointer is known, and every
    guarded thread-stack mapping (an rw mapping right above a ---p guard page)."""
    try:
        maps = memory.read_maps(pid)
        calls = memory.thread_syscalls(pid)
    except CaptureError:
        return [], []
    owners = []
    for tid in tids:
        sp = calls[tid].sp if tid in calls else None
        if sp:
            m = next((m for m in maps if m.contains(sp)), None)
            if m is not None:
                owners.append((m, tid))
    guarded = [m for prev, m in zip(maps, maps[1:]) if prev.end == m.start and prev.perms.startswith("---") and m.perms.startswith("rw")]
    return owners, guarded


SETTLE_READS = 5  # reads of the stack pointers of threads found running, at most
SETTLE_GAP = 0.01  # seconds between them


def _settle(pid: int, threads: list[Thread], tasks: set[int]) -> dict[int, int]:
    """id(thread) -> tid for ``threads`` whose ident lies in the stack mapping of one of
    ``tasks``, reading the tasks' stack pointers again while some were on a CPU."""
    found: dict[int, int] = {}
    for _ in range(SETTLE_READS):
        owners, _guarded = _stack_owners(pid, tasks - set(found.values()))
        for t in threads:
            if id(t) in found:
                continue
            tid = next((tid for mapping, tid in owners if mapping.contains(t.ident) and tid not in found.values()), None)
            if tid is not None:
                found[id(t)] = tid
        if len(found) == len(threads):
            break
        time.sleep(SETTLE_GAP)
    return found


def keeps_fork_threads(python: Optional[str]) -> bool:
    """Whether a fork child of this interpreter keeps the parent's other thread states:
    CPython 2.7 does; 3.x deletes them in the child (PyOS_AfterFork_Child). Unknown: maybe."""
    return python is None or python.startswith("2")


def _without_reused_idents(threads: list[Thread]) -> list[Thread]:
    """Every thread state after the first with an ident marked a fork ghost (see above)."""
    seen: set[int] = set()
    out = []
    for t in threads:
        if t.ident and t.ident in seen and not t.ghost:
            t = replace(t, tid=0, ghost=True, active=False, owns_gil=False)
        seen.add(t.ident)
        out.append(t)
    return out


def match_tasks(pid: int, threads: list[Thread], live: set[int], python: Optional[str] = None) -> list[Thread]:
    """Threads with their OS tids filled in where py-spy left them out; fork ghosts marked.

    ``live`` should hold the tasks listed after the dump (a thread started after an
    earlier listing is live, not a ghost). A thread with no live task is a fork ghost
    only where the interpreter keeps them (``keeps_fork_threads``); in 3.x it is a
    thread that ended between the dump and the listing, and is kept as py-spy saw it."""
    threads = _without_reused_idents(threads)
    if not live or all(t.tid in live or t.ghost for t in threads):
        return threads
    taken = {t.tid for t in threads if t.tid in live}
    # the main task too: a child forked from a non-main thread (Pool's worker handler
    # starting a replacement) runs on that thread's stack mapping, which holds its ident
    owners, guarded = _stack_owners(pid, live - taken)
    tid_of: dict[int, int] = {}
    for t in threads:
        if t.tid in live or t.ghost:
            continue
        for mapping, tid in owners:
            if mapping.contains(t.ident) and tid not in taken:
                tid_of[id(t)] = tid
                taken.add(tid)
                break
    unresolved = [t for t in threads if t.tid not in live and id(t) not in tid_of and not t.ghost]
    main: Optional[Thread] = None
    if pid in live and pid not in taken and unresolved:
        not_a_stack = [t for t in unresolved if not any(m.contains(t.ident) for m in guarded)]
        on_child_path = [t for t in unresolved if any(_on_child_path(f) for f in t.frames)]
        for candidates in (not_a_stack, on_child_path, unresolved if len(unresolved) == 1 else []):
            if len(candidates) == 1:
                main = candidates[0]
                break
    left = [t for t in unresolved if t is not main]
    free = sorted(live - taken - ({pid} if main is not None else set()))
    if left and len(left) <= len(free):
        # as many live tasks unaccounted for as threads left: these are live threads whose
        # stack pointer was not read (on a CPU: /proc/PID/task/TID/syscall says "running"),
        # not fork ghosts -- a live parent thread read as a ghost with tid 0 named "thread 0"
        # as an orphaned lock's owner (2.7). Their stacks are read again; one left for one task is it.
        tid_of.update(_settle(pid, left, set(free)))
        rest = [t for t in left if id(t) not in tid_of]
        still = sorted(set(free) - set(tid_of.values()))
        if len(rest) == 1 and len(still) == 1:
            tid_of[id(rest[0])] = still[0]
        keep_live = {id(t) for t in left}
    else:
        keep_live = set()
    out = []
    for t in threads:
        if id(t) in keep_live and id(t) not in tid_of:
            out.append(t)  # live, its task not told: not a ghost
        elif t is main or id(t) in tid_of:
            tid = pid if t is main else tid_of[id(t)]
            # py-spy could not see this thread's kernel state, so its "active" is a guess
            out.append(replace(t, tid=tid, active=procs.task_state(pid, tid) == "R"))
        elif t.tid not in live and keeps_fork_threads(python):
            out.append(replace(t, ghost=True, active=False, owns_gil=False))
        else:
            out.append(t)
    return out
