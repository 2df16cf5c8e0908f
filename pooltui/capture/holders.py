"""Threads that could hold a lock that records no owner (a plain ``threading.Lock``), with
the evidence from their own source lines: a frame past ``NAME.acquire()`` with no
``NAME.release()`` since, in the same function, or inside a ``with ...NAME...:`` block.

This is inference from the stacks and the source, never a fact read from the lock: every
holder it returns is ``HOW_INFERRED`` and carries its evidence, and the analysis words it
as "could be held by". Source files are read as the target's user (``sourcelines``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from pooltui.capture import sourcelines
from pooltui.capture.redact import scrub_code
from pooltui.model import HOW_INFERRED, Frame, Lock, LockHolder, LockKind, Snapshot, Thread
from pooltui.model.record import replace

WITH_KINDS = (LockKind.LOCK, LockKind.SEMAPHORE)  # kinds that record no owner: their holders are read from `with` blocks
LOOK_BACK = 80  # lines above the current one searched, within the same function
FRAMES = 8  # frames per thread looked at, innermost first


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


_WITH_NAME = re.compile(r"^\s*(?:async\s+)?with\s+([\w.]+)\s*(?:\(\s*\))?\s*(?::|as\b)")
_ACQUIRE_NAME = re.compile(r"([\w.]+)\.acquire\(")
FRAMES_SEARCHED = 6  # frames of a waiting client searched for how it spells the proxy
_COMMENT = re.compile(r"""\s+#[^'"]*$""")  # a trailing comment on a `with` line (none inside a string)
_SUBSCRIPT = re.compile(r"^([A-Za-z_]\w*)((?:\[[^\[\]]{1,80}\])*)$")


def _pattern(name: str) -> Optional[str]:
    """A regex for how code spells the lock's last name: ``lock``, ``LOCKS['db']`` (either
    quote, spaces allowed), ``_waiters[0]``; None for a name code cannot spell."""
    m = _SUBSCRIPT.match(name)
    if m is None:
        return None
    out = re.escape(m.group(1))
    for key in re.findall(r"\[([^\[\]]+)\]", m.group(2)):
        key = key.strip()
        if len(key) >= 2 and key[0] in "'\"" and key[-1] == key[0]:
            key_re = "['\"]" + re.escape(key[1:-1]) + "['\"]"
        else:
            key_re = re.escape(key)
        out += rf"\s*\[\s*{key_re}\s*\]"
    return out


def _in_nested_def(lines: Sequence[str], j: int, current: int) -> bool:
    """Line ``j`` is in the body of a ``def``/``class`` nested in the frame's code (above its
    current line, indented deeper than it): defined there, not run there (a module's
    ``sem.acquire()`` inside an earlier ``def leaker():`` is not the module frame's)."""
    indent = _indent(lines[j])
    if indent <= current:
        return False
    for k in range(j - 1, -1, -1):
        text = lines[k]
        stripped = text.strip()
        if not stripped or stripped.startswith("#") or _indent(text) >= indent:
            continue
        indent = _indent(text)
        if indent < current:
            return False  # the frame's own enclosing block: the line is its code
        if stripped.startswith(("def ", "async def ", "class ")):
            return True
    return False


def _evidence(lines: Sequence[str], frame: Frame, name: str) -> Optional[str]:
    """Why ``frame`` (at its current line) may hold the lock called ``name`` (its last
    component as code spells it: ``lock``, ``LOCKS['db']``), or None."""
    spelled = _pattern(name)
    if spelled is None or not 0 < frame.line <= len(lines):
        return None
    # a statement that calls it (not a string or comment mentioning it): `X.acquire()`,
    # `self.x.acquire(timeout=1)`, `ok = X.acquire(False)`, `if X.acquire(...):`
    acquire = re.compile(rf"^\s*(?:(?:if|while|return|assert)\s+(?:not\s+)?|[\w.]+\s*=\s*)?(?:[\w.]*\.)?{spelled}\.acquire\(")
    release = re.compile(rf"(?<![\w]){spelled}\.release\(")
    with_ = re.compile(rf"^\s*(?:async\s+)?with\b.*(?<![\w]){spelled}(?![\w\[]).*:")
    where = frame.short_file or frame.file
    current = _indent(lines[frame.line - 1])
    for j in range(frame.line - 2, max(-1, frame.line - 2 - LOOK_BACK), -1):
        text = lines[j]
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if release.search(text):
            return None  # released again before the current line
        if acquire.match(text) and not _in_nested_def(lines, j, current):
            return f"past {name}.acquire() at {where}:{j + 1}"
        if _indent(text) < current:
            if with_.match(text):
                shown = _COMMENT.sub("", stripped)
                return f"inside `{scrub_code(shown)[:80]}` at {where}:{j + 1}"  # a source line: masked like any
            if stripped.startswith(("def ", "async def ")):
                return None  # the function's start: nothing above belongs to this frame
            current = _indent(text)
    return None


def took_at(pid: int, name: str, thread: Thread, files: Optional[dict] = None, addr: Optional[int] = None) -> str:
    """Where ``thread`` took the lock called ``name``, from its own frames' source: the
    innermost frame inside ``with ...NAME...:`` or past ``NAME.acquire()`` ("" if none).
    ``addr``: the lock object's address; a frame whose local NAME (py-spy ``--locals``) is
    another object spells another lock by the same name (``with lk:`` over two locks)."""
    last = name.rpartition(".")[2]
    if _pattern(last) is None:
        return ""
    for frame in thread.frames[:FRAMES]:
        if frame.native or not frame.file or frame.file.startswith("<") or frame.file.endswith("threading.py"):
            continue
        local = frame.local(last) if addr else None
        # a local NAME that is another object spells another lock by the same name here
        # (`move(src, dst)` run by two threads with the locks swapped: this frame's `dst` is
        # the other lock); an alias is the same object under another local name: `lk = LOCK;
        # lk.acquire()`, or this frame's `src`
        mine = () if local is not None and local.addr and local.addr != addr else (last,)
        aliases = [loc.name for loc in frame.locals or () if addr and loc.addr == addr and loc.name != last]
        if not mine and not aliases:
            continue
        lines = sourcelines.lines_of(pid, frame.file, files)
        evidence = next((e for e in (_evidence(lines, frame, n) for n in (*mine, *aliases)) if e), None)
        if evidence:
            return evidence
    return ""


def could_hold(pid: int, lock: Lock, threads: Sequence[Thread], files: Optional[dict] = None) -> tuple[LockHolder, ...]:
    """Threads of ``pid`` (other than the lock's waiters) whose stack points at ``lock``."""
    if _pattern(lock.name.rpartition(".")[2]) is None:
        return ()
    waiting = {tid for p, tid in lock.waiters if p == pid}
    out = []
    for t in threads:
        if t.tid in waiting or t.ghost:
            continue
        evidence = took_at(pid, lock.name, t, files, lock.addr if lock.kind in WITH_KINDS else None)
        if evidence:
            out.append(LockHolder(pid, t.tid, t.ident, t.name, how=HOW_INFERRED, evidence=evidence))
    return tuple(out)


def owners_took_at(snapshot: Snapshot, locks: Sequence[Lock]) -> list[Lock]:
    """Locks whose owner is recorded (an RLock's owner ident, a multiprocessing lock's
    ``last_tid`` while its per-process count is > 0) with the line where that thread took
    them, as ``could_hold`` of that one thread: the evidence the holder is shown with."""
    files: dict = {}
    out = []
    for lock in locks:
        proc = snapshot.process(lock.pid)
        counted = lock.kind == LockKind.RLOCK or (lock.kind == LockKind.SEMLOCK and (lock.count or 0) > 0)
        owner = None
        if proc is not None and counted and lock.owner_ident:
            owner = next((t for t in proc.threads if t.ident == lock.owner_ident and not t.ghost), None)
        evidence = took_at(lock.pid, lock.name, owner, files) if owner is not None and not lock.could_hold else ""
        held = LockHolder(lock.pid, owner.tid, owner.ident, owner.name, how=HOW_INFERRED, evidence=evidence) if evidence and owner else None
        out.append(replace(lock, could_hold=(held,)) if held is not None else lock)
    return out


def name_from_code(frame: Frame) -> Optional[str]:
    code = frame.code or ""
    m = _WITH_NAME.match(code) or _ACQUIRE_NAME.search(code)
    return m.group(1) if m else None


def _proxy_names(snapshot: Snapshot, pids: Sequence[int]) -> set[str]:
    """How the waiting clients' code spells the proxy: `with lk:`, `self.lock.acquire()` -> lk, lock."""
    names = set()
    for pid in pids:
        proc = snapshot.process(pid)
        for t in proc.threads if proc is not None else ():
            mine = (f for f in t.frames[:FRAMES_SEARCHED] if f.code and "multiprocessing" not in f.file and not f.file.endswith("threading.py"))
            user = next(mine, None)
            name = name_from_code(user) if user is not None else None
            if name:
                names.add(name.rpartition(".")[2])
    return names


def manager_took_at(snapshot: Snapshot, lock: Lock) -> Lock:
    """A Manager lock with the line where each client that may hold it took it: a thread of a
    client whose last request was acquire(), inside `with NAME:` or past `NAME.acquire()`,
    NAME as the waiting clients' code spells the proxy (``holders.took_at``; source only)."""
    clients = lock.manager.clients if lock.manager is not None else ()
    names = _proxy_names(snapshot, [c.pid for c in clients if c.waiting and c.pid])
    found = []
    files: dict = {}
    for pid in dict.fromkeys(c.pid for c in clients if not c.waiting and c.pid and c.last_call in ("acquire", "__enter__")):
        proc = snapshot.process(pid)
        for t in proc.threads if proc is not None and names else ():
            evidence = next((e for e in (took_at(pid, n, t, files) for n in sorted(names)) if e), "")
            if evidence:
                found.append(LockHolder(pid, t.tid, t.ident, t.name, how=HOW_INFERRED, evidence=evidence))
    return replace(lock, could_hold=(*lock.could_hold, *found)) if found else lock
