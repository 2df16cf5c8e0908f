"""The `/` search: what a process and each of its threads are matched against — pid, role,
state, command line, the verdicts that name it, and inside its stacks: thread names and
roles, wait lines, lock names, each frame's function, file and source line. Case-blind
substring match. Plain Python over the model (no Textual)."""

from __future__ import annotations

from pooltui.model import Process, Snapshot, Thread


def _thread_text(thread: Thread, snapshot: Snapshot) -> str:
    parts = [thread.label, thread.role, str(thread.tid)]
    if thread.wait is not None:
        parts += [thread.wait.summary, thread.wait.holder or ""]
        if thread.wait.lock_id:
            parts += [lk.name for lk in snapshot.locks if lk.id == thread.wait.lock_id]
    for f in thread.frames:
        parts += [f.function, f.where, f.code or ""]
    return "\n".join(parts).lower()


def _process_text(proc: Process, state: str, snapshot: Snapshot) -> str:
    parts = [str(proc.pid), proc.role_label, state, proc.name, " ".join(proc.cmdline)]
    parts += [f"{d.kind}\n{d.summary}" for d in snapshot.diagnoses if proc.pid in d.pids]
    return "\n".join(parts).lower()


def matching_threads(proc: Process, needle: str, snapshot: Snapshot) -> list[int]:
    """Indexes (in ``proc.threads``) of the threads whose stack, wait or name holds ``needle``."""
    if not needle:
        return []
    n = needle.lower()
    return [i for i, t in enumerate(proc.threads) if n in _thread_text(t, snapshot)]


def matches(proc: Process, state: str, needle: str, snapshot: Snapshot) -> bool:
    """The `/` filter keeps this process in the tree."""
    if not needle:
        return True
    return needle.lower() in _process_text(proc, state, snapshot) or bool(matching_threads(proc, needle, snapshot))


def hits(procs: list[Process], needle: str, snapshot: Snapshot) -> list[tuple[int, int | None]]:
    """Every match in tree order, as (pid, thread index): a process that matches only by
    its own fields (pid, role, command line, verdict) is one hit with no thread."""
    out: list[tuple[int, int | None]] = []
    for p in procs:
        threads = matching_threads(p, needle, snapshot)
        out += [(p.pid, i) for i in threads] or [(p.pid, None)]
    return out
