"""asyncio event loops blocked inside a coroutine.

A loop runs one callback or task step at a time; a coroutine that calls something
synchronous that blocks -- ``with threading_lock:``, ``time.sleep``, a blocking read --
stops every other task, timer and connection of that loop. py-spy shows such a thread as
idle with the coroutine's frames right above asyncio's ``Handle._run`` (``waits``: "the
event loop is blocked (in coroutine X): ..."). The lock step (``analysis.locks``) rewrites
wait lines of lock waiters; this pass says it again on them and gives the verdict:

- ``blocked_event_loop`` (warning): the loop's thread waits on a lock inside a coroutine,
  with the lock and its holder. (A cycle or a dead holder behind it has its own error.)
- ``deadlock_cycle`` (a guess: a warning): the other way round -- a coroutine holds a plain
  ``threading.Lock`` across an ``await`` (memory: the lock's one live ``with`` is in a frame
  no thread runs) while a thread of the same process waits on it and the loop idles. The
  coroutine awaits something that does not come; typically ``run_in_executor()`` of the very
  work that waits for the lock.
"""

from __future__ import annotations

from pooltui.analysis.frames import code_text, find
from pooltui.analysis.locks import lock_key
from pooltui.analysis.unreleasable import suspended_holder
from pooltui.analysis.waits import coroutine_of, loop_callback, said_in_coroutine
from pooltui.model import Certainty, Diagnosis, Kind, Snapshot, Thread, WaitKind
from pooltui.model.record import replace

HELD_ACROSS_AWAIT_FIX = (
    "Never hold a threading lock across an await: use asyncio.Lock in coroutines, or release the lock before awaiting "
    "run_in_executor() / a future whose work needs it."
)


def _blocked(t: Thread) -> bool:
    return not t.active and not t.ghost and t.wait is not None and loop_callback(t.frames) is not None


def mark(snapshot: Snapshot) -> Snapshot:
    """Wait lines of loop threads blocked in a coroutine say so (after the lock rewrite)."""
    changed = False
    processes = []
    for p in snapshot.processes:
        threads = []
        for t in p.threads:
            if _blocked(t) and t.wait is not None and t.wait.coroutine is None:
                t = replace(t, wait=said_in_coroutine(t.wait, coroutine_of(t.frames)))
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


def _idle_loop(t: Thread) -> bool:
    """A thread running an asyncio loop that waits for I/O or timers (no callback running)."""
    return (
        not t.ghost
        and t.wait is not None
        and t.wait.kind in (WaitKind.SELECT, WaitKind.IDLE)
        and find(t.frames, "asyncio/base_events.py", "run_forever", "_run_once") is not None
        and loop_callback(t.frames) is None
    )


def held_across_await(snapshot: Snapshot) -> list[Diagnosis]:
    """A plain Lock held by a suspended coroutine while a thread waits on it and the loop idles."""
    out = []
    for lock in snapshot.locks:
        proc = snapshot.process(lock.pid)
        frames = suspended_holder(lock, proc)
        loops = [t for t in proc.threads if _idle_loop(t)] if proc is not None and frames else []
        if proc is None or not loops:
            continue
        waiting = [t for pid, tid in lock.waiters for t in (proc.thread(tid),) if t is not None and t.timed is not True]
        if not waiting:
            continue
        where = ", ".join(f"{function}() ({file.rpartition('/')[2]})" for file, function in frames[:3])
        names = ", ".join(repr(t.label) for t in waiting)
        verb = "wait" if len(waiting) > 1 else "waits"
        loop = loops[0]
        out.append(
            Diagnosis(
                kind=Kind.DEADLOCK,
                certainty=Certainty.GUESS,
                subject=lock_key(lock),
                summary=(
                    f"Probably a deadlock: {names} (pid {lock.pid}) {verb} on {lock.name}, a threading.Lock held inside `with` by "
                    f"{where}, which is suspended at an await: only the event loop of {loop.label!r} can resume it, and that loop is "
                    "idle, so what it awaits is not coming -- most likely the work waiting for the lock (run_in_executor)."
                ),
                pids=(lock.pid,),
                tids=(*(t.tid for t in waiting), loop.tid),
                evidence=(
                    f"{lock.type_name or 'lock'} at 0x{lock.addr:x}: one live `with` of it beyond the waiters', in a frame of {where} "
                    "that no thread runs (a suspended coroutine or generator)",
                    f"{loop.label!r}: {loop.wait.summary if loop.wait else 'idle event loop'}",
                ),
                fix=HELD_ACROSS_AWAIT_FIX,
            )
        )
    return out
