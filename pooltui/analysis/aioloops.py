"""asyncio event loops blocked inside a coroutine.

A loop runs one callback or task step at a time; a coroutine that calls something
synchronous that blocks -- ``with threading_lock:``, ``time.sleep``, a blocking read --
stops every other task, timer and connection of that loop. py-spy shows such a thread as
idle with the coroutine's frames right above asyncio's ``Handle._run`` (``waits``: "the
event loop is blocked (in coroutine X): ..."). The lock step (``analysis.locks``) rewrites
wait lines of lock waiters; this pass says it again on them and gives the verdict:

- ``blocked_event_loop`` (warning): the loop's thread waits on a lock inside a coroutine,
  with the lock and its holder. (A cycle or a dead holder behind it has its own error.)
"""

from __future__ import annotations

from dataclasses import replace

from pooltui.analysis.frames import code_text
from pooltui.analysis.waits import LOOP_BLOCKED, coroutine_of, loop_callback
from pooltui.model import Certainty, Diagnosis, Kind, Snapshot, Thread


def _blocked(t: Thread) -> bool:
    return not t.active and not t.ghost and t.wait is not None and loop_callback(t.frames) is not None


def mark(snapshot: Snapshot) -> Snapshot:
    """Wait lines of loop threads blocked in a coroutine say so (after the lock rewrite)."""
    changed = False
    processes = []
    for p in snapshot.processes:
        threads = []
        for t in p.threads:
            if _blocked(t) and t.wait is not None and not t.wait.summary.startswith(LOOP_BLOCKED):
                t = replace(t, wait=replace(t.wait, summary=f"{LOOP_BLOCKED} (in coroutine {coroutine_of(t.frames)}): {t.wait.summary}"))
                changed = True
            threads.append(t)
        processes.append(replace(p, threads=tuple(threads)))
    return snapshot.with_(processes=tuple(processes)) if changed else snapshot


def diagnose(snapshot: Snapshot) -> list[Diagnosis]:
    out = []
    locks = {lock.id: lock for lock in snapshot.locks}
    for p in snapshot.processes:
        for t in p.threads:
            if not _blocked(t) or t.wait is None or not t.wait.kind.is_lock:
                continue
            lock = locks.get(t.wait.lock_id or "")
            what = f"{lock.name}" if lock is not None else "a lock"
            holder = f", held by {t.wait.holder}" if t.wait.holder else ""
            f = t.frames[t.wait.frame_index] if t.wait.frame_index is not None else None
            at = f" at {f.where}" + (f" `{code_text(f.code)}`" if f.code else "") if f is not None else ""
            out.append(
                Diagnosis(
                    kind=Kind.BLOCKED_EVENT_LOOP,
                    certainty=Certainty.FACT if lock is not None else Certainty.INFERRED,
                    subject=f"thread {p.pid}:{t.tid}",
                    summary=(
                        f"The asyncio event loop of '{t.label}' (pid {p.pid}) is blocked: coroutine {coroutine_of(t.frames)} "
                        f"waits on {what}{holder}{at}. No other task, timer or connection of that loop runs until it gets it."
                    ),
                    pids=(p.pid,),
                    tids=(t.tid,),
                    evidence=(t.wait.summary,),
                    fix="Never take a threading lock in a coroutine: use asyncio.Lock, or run the blocking part in a thread "
                    "(await loop.run_in_executor(None, fn) / asyncio.to_thread(fn)).",
                )
            )
    return out
