"""Lock facts for threads blocked in a futex wait, read from the targets' memory.

For each process with a thread asleep in ``futex()`` (``/proc/PID/task/TID/syscall``):
the lock objects reachable from that thread's frame locals (py-spy ``--locals``: the
process is dumped again with locals when the capture had none) are read, and the one
whose ``sem_t`` is the futex address is the lock the thread waits on. For a
multiprocessing lock, the same object is read in the other processes of the tree (fork
children keep its address) so the process that holds the shared semaphore can be found.

Everything here is a raw fact (``Lock`` with ``waiters``, owner ident, counts); who
holds what, orphans and cycles are concluded in ``analysis.locks``. Only threads that
are blocked are looked at, so a healthy, busy pool costs one /proc read per process.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

from pooltui.capture import dump, holders, kernel, managers, memory, ownedlocks, procs, pyspy, semaphores, semlocks, sourcelines, worker
from pooltui.capture.errors import CaptureError
from pooltui.capture.threads import match_tasks
from pooltui.model import Frame, Lock, Process, Snapshot, Thread

_REPR_TYPE = re.compile(r"^<([\w.]+) at 0x[0-9a-f]+>$")
_KIND = {"_thread.RLock": "rlock", "_RLock": "rlock", "_thread.lock": "lock", "thread.lock": "lock"}
FRAMES_SEARCHED = 6
_NOT_LOCK_WAITS = frozenset({"wait", "_wait_for_tstate_lock", "join"})  # innermost frames whose locals are searched for the waited lock


def version_of(proc: Process) -> Optional[tuple[int, int]]:
    return procs.version_tuple(proc.python)


def _type_of(repr_text: str) -> Optional[str]:
    m = _REPR_TYPE.match(repr_text)
    return m.group(1).rpartition(".")[2] if m else None


def _display_name(path: str, frame: Frame) -> str:
    """'self.flush_lock' in a BufferingHandler method -> 'BufferingHandler.flush_lock'."""
    root, _, rest = path.partition(".")
    rest = rest.removesuffix("._semlock").removesuffix("_semlock").rstrip(".")
    local = frame.local(root)
    type_name = _type_of(local.repr) if local else None
    if type_name and (root == "self" or (rest and "[" not in root + rest)):
        # where the lock lives, as the class names it: `ledger.audit_lock` -> Ledger.audit_lock
        return f"{type_name}.{rest}" if rest else type_name
    return path.removesuffix("._semlock")


def _lock_kind(obj: memory.LockObject) -> str:
    return "semlock" if obj.kind == "semlock" else _KIND.get(obj.type_name, obj.kind)


def _record(pid: int, obj: memory.LockObject, name: str, where: str, sem: Optional[str]) -> Lock:
    return Lock(
        id=f"{pid}:{obj.addr:x}",
        kind=_lock_kind(obj),
        name=name,
        pid=pid,
        addr=obj.addr,
        type_name=obj.type_name,
        sem=sem,
        sem_value=obj.sem_value,
        semlock_kind=obj.semlock_kind,
        maxvalue=obj.maxvalue,
        locked=obj.locked,
        count=obj.count,
        owner_ident=obj.owner_ident,
        where=where,
        fd=obj.fd,
    )


def _sem_identity(pid: int, obj: memory.LockObject, maps: Optional[Sequence[memory.Mapping]] = None) -> Optional[str]:
    """The semaphore's identity across processes; ``maps``: the process's, when already read."""
    if obj.sem_addr is None:
        return None
    place = semlocks.shm_place(maps or memory.read_maps(pid), obj.sem_addr) if obj.kind == "semlock" else None
    if place is not None:
        return place.identity
    return f"mem:{pid}:{obj.sem_addr:x}"


def _place(
    mem: memory.TargetMemory, frames: Sequence[Frame], futex: int, name_hint: Optional[str] = None, ident: Optional[int] = None
) -> Optional[memory.Place]:
    """Where the lock of sem_t ``futex`` lives, from the thread's locals, closures, classes
    and the globals its frames run in (``memory.places``; ``ident``: the thread's)."""
    shape = [(f.file, [(loc.name, loc.addr) for loc in f.locals or () if loc.addr]) for f in frames]
    return memory.find_lock_place(mem, shape, futex, name_hint, ident=ident)


def _waiting_frame(frames: Sequence[Frame]) -> Optional[Frame]:
    """The innermost frame outside threading / multiprocessing's own lock code."""
    return next((f for f in frames if not f.file.endswith(("threading.py", "synchronize.py"))), frames[0] if frames else None)


def _find_waited(
    mem: memory.TargetMemory, frames: Sequence[Frame], futex: int, ident: Optional[int] = None
) -> Optional[tuple[memory.LockObject, str, str]]:
    """(lock object, display name, where) of the lock whose sem_t is ``futex`` (``ident``: the
    waiting thread's, whose frames' globals hold a module-level lock however deep it waits)."""
    if frames and frames[0].file.endswith("threading.py") and frames[0].function.rpartition(".")[2] in _NOT_LOCK_WAITS:
        return None  # a Condition's private waiter lock or a join: nobody "holds" it
    candidates: list[tuple[int, memory.LockObject, str]] = []
    for index, frame in enumerate(frames[:FRAMES_SEARCHED]):
        roots = [(loc.name, loc.addr) for loc in frame.locals or () if loc.addr]
        if not roots:
            continue
        for path, obj in mem.find_locks(roots, depth=3):
            if obj.sem_addr == futex:
                candidates.append((index, obj, path))
        if candidates:
            break
    if not candidates:
        place = _place(mem, frames[:FRAMES_SEARCHED], futex, ident=ident)
        waiting = _waiting_frame(frames)
        if place is None or waiting is None:
            return None
        return place.lock, place.name, waiting.where
    index, obj, path = candidates[0]
    frame = frames[index]
    if frame.file.endswith("threading.py") and frame.function.rpartition(".")[2] in _NOT_LOCK_WAITS:
        return None
    name = _display_name(path, frame)
    named = False
    # a stdlib frame (threading.acquire, SemLock.__enter__, Handler.acquire) names the lock
    # badly ("self"): prefer how the outer frames reach the same object, or where it lives
    for outer in frames[index + 1 : index + 1 + FRAMES_SEARCHED]:
        if outer.file.endswith("threading.py") and outer.function.rpartition(".")[2] in ("run", "_bootstrap_inner", "_bootstrap"):
            break  # Thread.run's self._args[1] is no name for a lock the target function was given
        if outer.file.endswith(("threading.py", "synchronize.py")):
            continue  # 2.7's Condition.__enter__ over _RLock.acquire: 'self._Condition__lock' is no name either
        roots = [(loc.name, loc.addr) for loc in outer.locals or () if loc.addr]
        better = next((p for p, o in mem.find_locks(roots, depth=3) if o.addr == obj.addr), None) if roots else None
        if better:
            name, frame, named = _display_name(better, outer), outer, True
            break
        from_code = holders.name_from_code(outer)
        if from_code and not outer.file.endswith(("threading.py", "synchronize.py")):
            place = _place(mem, frames[index + 1 : index + 1 + FRAMES_SEARCHED], futex, from_code.rpartition(".")[2], ident)
            placed = place is not None and place.lock.addr == obj.addr and place.name.endswith(from_code.rpartition(".")[2])
            name, frame, named = (place.name if placed else from_code), outer, True  # type: ignore[union-attr]
            break
    if not named and frame.file.endswith(("threading.py", "synchronize.py")):
        # no outer frame reaches it and no source line spells it (2.7's Python _RLock taken in
        # code with no source): where it lives, through the frames' own globals
        place = _place(mem, frames[index + 1 : index + 1 + FRAMES_SEARCHED], futex, None, ident)
        waiting = _waiting_frame(frames)
        if place is not None and place.lock.addr == obj.addr and waiting is not None:
            name, frame = place.name, waiting
    if name in ("self", "waiter", "lock"):
        name = holders.name_from_code(frame) or name
    return obj, name, frame.where


async def _frames_with_locals(proc: Process, timeout: float, live: set[int]) -> dict[int, tuple[Frame, ...]]:
    if proc.threads and any(f.locals is not None for t in proc.threads for f in t.frames):
        return {t.tid: t.frames for t in proc.threads}
    # redacted as every dump is (its locals lead to the lock objects by address, which stay)
    threads = await dump.dump(proc.pid, pyspy.DumpOptions(locals=True, timeout=timeout), redact_secrets=True)
    matched = [t for t in match_tasks(proc.pid, threads, live) if not t.ghost]
    # source files are read as the target's user, within a deadline: never on the event loop
    return await worker.run(lambda: {t.tid: sourcelines.with_code(t.frames, proc.pid) for t in matched})


# a thread py-spy saw idle that reads "running" (or -1) right after a dump that paused its
# process has not yet been scheduled back into the call the pause interrupted: on a loaded
# machine all of a process's threads read so for a while, and a deadlock read then had no
# futex to follow ("No problems found"). Read again, bounded. Not restart_syscall (219): a
# timed wait the pause interrupted sits in it until its deadline (a Timer's hour), so
# reading again only spent SETTLE_SECONDS (kernel.describe: a timed wait).
_RESUMING = (None, -1)  # "running", not in a system call
SETTLE_SECONDS = 0.5
SETTLE_STEP = 0.02


def _lockish(t: Thread) -> bool:
    """Its innermost Python frame is a lock acquire or wait (a thread whose locks get read)."""
    f = next((f for f in t.frames if not f.native), None)
    code = (f.code or "").lstrip() if f is not None else ""
    return f is not None and (f.file.endswith(("threading.py", "synchronize.py")) or code.startswith(("with ", "async with ")) or ".acquire(" in code)


def _resuming(proc: Process, syscalls: dict[int, memory.Syscall]) -> bool:
    return any(t.tid in syscalls and syscalls[t.tid].nr in _RESUMING and not t.active and not t.ghost and _lockish(t) for t in proc.threads)


async def with_futex_settled(proc: Process) -> Process:
    """``with_futex`` once the process's idle threads are back in their system calls
    (at most ``SETTLE_SECONDS`` of re-reads, without blocking the event loop)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        try:
            syscalls = memory.thread_syscalls(proc.pid)
        except CaptureError:
            return proc
        if not _resuming(proc, syscalls) or time.monotonic() >= deadline:
            return with_futex(proc, syscalls)
        await asyncio.sleep(SETTLE_STEP)


def with_futex(proc: Process, syscalls: Optional[dict[int, memory.Syscall]] = None) -> Process:
    """``Thread.futex`` for every thread asleep in futex(), and the system call each
    blocked thread sits in (``capture.kernel``: its name, timeout, fd): one /proc read per
    thread, cheap enough for every refresh. Unreadable /proc leaves the process as it was."""
    if syscalls is None:
        try:
            syscalls = memory.thread_syscalls(proc.pid)
        except CaptureError:
            return proc
    threads = []
    for t in proc.threads:
        call = syscalls.get(t.tid)
        blocked = call is not None and not t.active and not t.ghost
        futex = call.futex_addr if blocked else None  # type: ignore[union-attr]
        name, timed, fd, child = kernel.describe(call.nr, call.args) if blocked else (None, None, None, None)  # type: ignore[union-attr]
        new = replace(t, futex=futex, syscall=name, timed=timed, fd=fd, child=child)
        threads.append(new if new != t else t)
    return replace(proc, threads=tuple(threads))


# (python version, futex address) -> (lock object address, name, where): fork children
# share their parent's addresses, so a lock found through one worker's frame locals is
# read directly in every sibling without dumping its locals again
Known = dict[tuple[tuple[int, int], int], tuple[int, str, str]]


def budget(timeout: float) -> memory.Budget:
    """The read budget of one process's lock objects: the capture's timeout, 64 MB."""
    return memory.Budget(max_bytes=64 << 20, seconds=max(timeout, 0.1))


def _from_known(proc: Process, threads: Sequence[Thread], known: Known, timeout: float) -> tuple[dict[int, Lock], list[Thread]]:
    """Locks of ``threads`` found at a known address; the threads still unresolved."""
    version = version_of(proc)
    hits = [(t, known.get((version, t.futex or 0))) for t in threads] if version else []
    if version is None or not any(hint for _, hint in hits):
        return {}, list(threads)
    locks: dict[int, Lock] = {}
    pending = []
    with memory.TargetMemory(proc.pid, version, budget(timeout)) as mem:
        for thread, hint in hits:
            obj = mem.read_lock(hint[0]) if hint else None
            if hint is None or obj is None or obj.sem_addr != thread.futex:
                pending.append(thread)
                continue
            _add(locks, proc.pid, thread.tid, obj, hint[1], hint[2], mem.maps)
    return locks, pending


def _add(
    locks: dict[int, Lock], pid: int, tid: int, obj: memory.LockObject, name: str, where: str, maps: Optional[Sequence[memory.Mapping]] = None
) -> None:
    name = f"{name}'s buffer" if obj.text_buffer else name  # sys.stdout's buffer: the lock is the BufferedWriter's
    lock = locks.get(obj.addr) or _record(pid, obj, name, where, _sem_identity(pid, obj, maps))
    locks[obj.addr] = replace(lock, waiters=(*lock.waiters, (pid, tid)))


def _resolve(
    proc: Process,
    version: tuple[int, int],
    pending: Sequence[Thread],
    frames: dict[int, tuple[Frame, ...]],
    known: Known,
    locks: dict[int, Lock],
    timeout: float,
) -> None:
    """Find the locks ``pending`` threads wait on through their frames' locals (adds to ``locks`` and ``known``)."""
    with memory.TargetMemory(proc.pid, version, budget(timeout)) as mem:
        for thread in pending:
            stack = frames.get(thread.tid, thread.frames)
            owned = _owned_lock(mem, proc.pid, stack, thread.futex or 0)
            if owned is not None:  # never in ``known``: the lock object is found through this wait's own frame
                lock = locks.get(owned.addr, owned)
                locks[owned.addr] = replace(lock, waiters=(*lock.waiters, (proc.pid, thread.tid)))
                continue
            found = _find_waited(mem, stack, thread.futex or 0, thread.ident)
            if found is None:
                found = _find_semaphore(mem, stack, thread.futex or 0)
                if found is not None:  # its futex is this wait's own lock: nothing to share with siblings
                    _add(locks, proc.pid, thread.tid, *found)
                continue
            obj, name, where = found
            known[(version, thread.futex or 0)] = (obj.addr, name, where)
            _add(locks, proc.pid, thread.tid, obj, name, where, mem.maps)


def _owned_lock(mem: memory.TargetMemory, pid: int, frames: Sequence[Frame], futex: int) -> Optional[Lock]:
    """The lock that is no lock object but records its owner a thread waits on: an import's
    module lock (``capture.ownedlocks``), named where the user's frame waits."""
    if ownedlocks.acquiring_frame(frames) is None:
        return None
    user = next((f for f in frames if f.file != ownedlocks.BOOTSTRAP and not f.file.startswith("<frozen")), None)
    try:
        return ownedlocks.module_lock(mem, pid, frames, futex, user.where if user is not None else "")
    except CaptureError:
        return None


def _find_semaphore(mem: memory.TargetMemory, frames: Sequence[Frame], futex: int) -> Optional[tuple[memory.LockObject, str, str]]:
    """(semaphore, display name, where) when the thread waits in a ``threading.Semaphore``'s
    acquire (``capture.semaphores``), named where it lives, else as the waiting line spells it."""
    try:
        found = semaphores.waited_semaphore(mem, frames, futex)
    except CaptureError:
        return None
    if found is None:
        return None
    obj, user = found
    outer = frames[user:][:FRAMES_SEARCHED]
    shape = [(f.file, [(loc.name, loc.addr) for loc in f.locals or () if loc.addr]) for f in outer]
    place = memory.find_lock_place(mem, shape, futex, None, target=obj)
    name = place.name if place is not None else None
    if name is None or name.partition(".")[0] in ("self", "sem"):
        name = (_display_name(name, outer[0]) if name else None) or holders.name_from_code(outer[0]) or obj.type_name
    return obj, name, outer[0].where


async def process_locks(
    proc: Process, tids: set[int], timeout: float, known: Optional[Known] = None, tree: Sequence[int] = ()
) -> tuple[list[Lock], list[str]]:
    """The locks that threads ``tids`` of ``proc`` (blocked in futex) wait on, and notes
    on what could not be read. ``known`` is used and extended across processes."""
    known = {} if known is None else known
    version = version_of(proc)
    blocked = _blocked(proc, tids)
    if not blocked or version is None:
        return [], []
    frames: dict[int, tuple[Frame, ...]] = {}
    try:
        # memory reads run in a thread: a 128-process tree must not freeze the UI's loop
        locks, pending = await worker.run(_from_known, proc, blocked, known, timeout)
        if pending:
            frames = await _frames_with_locals(proc, timeout, set(memory.thread_syscalls(proc.pid)))
            await worker.run(_resolve, proc, version, pending, frames, known, locks, timeout)
            if tree and any(managers.serving(frames.get(t.tid, ())) for t in pending):
                locks = await worker.run(_with_manager, proc, frames, locks, tree)
    except CaptureError as exc:
        return [], [_unread(proc, exc)]
    return await worker.run(_finished, proc, locks, frames), []


def _blocked(proc: Process, tids: set[int]) -> list[Thread]:
    """The threads ``tids`` of ``proc`` that sleep on a futex."""
    return [t for t in proc.threads if t.tid in tids and t.futex is not None]


def _unread(proc: Process, exc: CaptureError) -> str:
    return f"lock state of pid {proc.pid} not read: {exc.message}"


def _finished(proc: Process, locks: dict[int, Lock], frames: dict[int, tuple[Frame, ...]]) -> list[Lock]:
    """``locks`` as found, plain ones (no owner recorded) with the frames that could hold
    them (``_with_candidates``), judged on the threads with their locals where a dump had
    them (``frames``): a local of the lock's name bound to another object rules a frame
    out (two locks passed to one function)."""
    found = list(locks.values())
    if not any(lock.kind in holders.WITH_KINDS for lock in found):
        return found
    stacks = replace(proc, threads=tuple(replace(t, frames=frames.get(t.tid, t.frames)) for t in proc.threads)) if frames else proc
    return _with_candidates(stacks, found)


def _with_candidates(proc: Process, locks: Sequence[Lock]) -> list[Lock]:
    """Plain locks (no owner recorded) with the frames inside a ``with`` of them (read from
    memory: ``memory.withblocks``) and the threads that could hold them and why (source)."""
    plain = [lock.addr for lock in locks if lock.kind in holders.WITH_KINDS]
    version = version_of(proc)
    found: dict[int, tuple[int, list[tuple[str, str]]]] = {}
    try:
        if version is not None and plain:
            with memory.TargetMemory(proc.pid, version, memory.SCAN_BUDGET) as mem:
                found = memory.exit_frames(mem, memory.read_maps(proc.pid), plain)
    except CaptureError:
        found = {}  # the holders stay "could hold"
    files: dict = {}
    out = []
    for lock in locks:
        if lock.kind not in holders.WITH_KINDS:
            out.append(lock)
            continue
        exits, frames = found.get(lock.addr, (None, []))
        could = holders.could_hold(proc.pid, lock, proc.threads, files)
        out.append(replace(lock, with_exits=exits, with_frames=tuple(frames), could_hold=could))
    return out


def _with_manager(proc: Process, frames: dict[int, tuple[Frame, ...]], locks: dict[int, Lock], tree: Sequence[int]) -> dict[int, Lock]:
    """A Manager server's locks with what its client connections last asked of them."""
    out = dict(locks)
    version = version_of(proc)
    if version is None:
        return out
    with memory.TargetMemory(proc.pid, version, budget(5.0)) as mem:

        def handle_of(conn: int) -> Optional[int]:
            """The fd of a multiprocessing Connection: 3.x the Python object's ``_handle``;
            2.7 the C ``_multiprocessing.Connection`` (``HANDLE handle`` right after the header)."""
            try:
                if mem.type_name(conn) == "_multiprocessing.Connection":
                    raw = mem._try(conn + 16, 4)
                    fd = int.from_bytes(raw, "little", signed=True) if raw else -1
                    return fd if 0 <= fd < 1 << 20 else None
                addr = mem.resolve(conn, ["_handle"])
                return mem._int(addr) if addr else None
            except CaptureError:
                return None

        for addr, lock in locks.items():
            found = managers.manager_object(proc, frames, lock, tree=tree, handle_of=handle_of)
            out[addr] = replace(lock, manager=found) if found is not None else lock
    return out


def _known_run(processes: Sequence[Process], wanted: dict[int, set[int]], known: Known, timeout: float) -> tuple[list[list[Lock]], list[str], int]:
    """``process_locks`` for the leading processes whose every blocked thread waits at a
    lock address already known (the 63 waiters of one pool lock after the first), in the
    calling thread: (their locks, notes, how many were done). Stops at the first process
    that needs more (a dump with locals), for ``process_locks``."""
    done: list[list[Lock]] = []
    notes: list[str] = []
    for proc in processes:
        version = version_of(proc)
        blocked = _blocked(proc, wanted[proc.pid])
        if blocked and version is not None:
            if not all(known.get((version, t.futex or 0)) for t in blocked):
                break
            try:
                locks, pending = _from_known(proc, blocked, known, timeout)
            except CaptureError as exc:
                notes.append(_unread(proc, exc))
                done.append([])
                continue
            if pending:  # an address known, but another lock there now: the full way
                break
            done.append(_finished(proc, locks, {}))
        else:
            done.append([])
    return done, notes, len(done)


async def read_locks(snapshot: Snapshot, wanted: dict[int, set[int]], timeout: float) -> tuple[tuple[Lock, ...], tuple[str, ...]]:
    """Lock records for the wanted threads ({pid: {tid}}) plus every other process's
    copy of a waited multiprocessing lock; notes say what could not be read."""
    records: list[Lock] = []
    notes: list[str] = []
    known: Known = {}
    tree = [p.pid for p in snapshot.processes]
    todo = [p for p in snapshot.processes if p.pid in wanted]
    while todo:
        # memory reads run in a thread: a 128-process tree must not freeze the UI's loop;
        # one thread hop for every process that needs no more than known addresses
        done, why, count = await worker.run(_known_run, todo, wanted, known, timeout)
        for found in done:
            records.extend(found)
        notes.extend(why)
        todo = todo[count:]
        if todo:
            proc, todo = todo[0], todo[1:]
            found, why = await process_locks(proc, wanted[proc.pid], timeout, known, tree=tree)
            records.extend(found)
            notes.extend(why)
    if records:
        records.extend(await worker.run(sibling_semlocks, snapshot, records))
        records = await worker.run(holders.owners_took_at, snapshot, records)
        records = [holders.manager_took_at(snapshot, lock) if lock.manager is not None else lock for lock in records]
    return tuple(records), tuple(dict.fromkeys(notes))


_UNREAD = memory.LockObject(0, "_multiprocessing.SemLock", "semlock", None, None, None, None, None, None)


def _place_of(lock: Lock, snapshot: Snapshot) -> Optional[semlocks.ShmPlace]:
    proc = snapshot.process(lock.pid)
    version = version_of(proc) if proc is not None else None
    if version is None:
        return None
    with memory.TargetMemory(lock.pid, version) as mem:
        obj = mem.read_lock(lock.addr)
    if obj is None or obj.sem_addr is None:
        return None
    return semlocks.shm_place(memory.read_maps(lock.pid), obj.sem_addr)


def sibling_semlocks(snapshot: Snapshot, waited: Sequence[Lock]) -> list[Lock]:
    """The same multiprocessing lock or semaphore as seen by every other process of the
    tree, matched by the ``/dev/shm`` file under it (``capture.semlocks``): fork, spawn
    and forkserver children alike. Each copy's per-process ``count`` and ``last_tid``
    say which processes hold it."""
    out: list[Lock] = []
    seen = {(lock.pid, lock.addr) for lock in waited}
    done: set[str] = set()
    for lock in waited:
        if lock.kind != "semlock" or not (lock.sem or "").startswith("shm:") or lock.sem in done:
            continue
        done.add(lock.sem or "")
        try:
            place = _place_of(lock, snapshot)
        except CaptureError:
            continue
        if place is None:
            continue
        group = [g for g in waited if g.sem == lock.sem]
        for proc in snapshot.processes:
            version = version_of(proc)
            if version is None or proc.error is not None or any(g.pid == proc.pid for g in group):
                continue
            if semlocks.acquisitions_unaccounted(group) == 0:
                break  # every acquisition the semaphore's value counts is explained
            try:
                found = semlocks.copies_in(proc.pid, proc.create_time, version, place, lock.addr)
            except CaptureError:
                found = None
            if not found:
                if found is None or semlocks.maps(proc.pid, place):
                    # it has the semaphore but its copy was not read: it may be the holder
                    unread = replace(_record(proc.pid, _UNREAD, lock.name, "", lock.sem), addr=0, count=None, locked=None)
                    group.append(unread)
                    out.append(unread)
                continue
            for obj in found:
                if (proc.pid, obj.addr) in seen:
                    continue
                seen.add((proc.pid, obj.addr))
                copy = _record(proc.pid, obj, lock.name, "", lock.sem)
                group.append(copy)
                out.append(copy)
    return out
