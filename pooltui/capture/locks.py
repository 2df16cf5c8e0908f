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

Which object a thread waits on, found from its frames, is ``capture.waited``'s; the copies
of a waited multiprocessing lock in the other processes are ``capture.semcopies``'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from pooltui.capture import dump, holders, kernel, managers, memory, procs, pyspy, semcopies, settle, sourcelines, waited, worker
from pooltui.capture.errors import CaptureError
from pooltui.capture.threads import match_tasks
from pooltui.model import Frame, Lock, Process, Snapshot, Thread
from pooltui.model.record import replace

# the names ``capture.coredump`` finds them by, here since before they moved to ``capture.waited``
_NOT_LOCK_WAITS = waited.NOT_LOCK_WAITS
_waiting_frame = waited.waiting_frame


def version_of(proc: Process) -> Optional[tuple[int, int]]:
    return procs.version_tuple(proc.python)


async def _frames_with_locals(proc: Process, timeout: float, live: set[int]) -> dict[int, tuple[Frame, ...]]:
    if proc.threads and any(f.locals is not None for t in proc.threads for f in t.frames):
        return {t.tid: t.frames for t in proc.threads}
    # redacted as every dump is (its locals lead to the lock objects by address, which stay)
    threads = await dump.dump(proc.pid, pyspy.DumpOptions(locals=True, timeout=timeout), redact_secrets=True)
    matched = [t for t in match_tasks(proc.pid, threads, live) if not t.ghost]
    # source files are read as the target's user, within a deadline: never on the event loop
    return await worker.run(lambda: {t.tid: sourcelines.with_code(t.frames, proc.pid) for t in matched})


def with_futex_now(proc: Process) -> Optional[Process]:
    """``with_futex`` from one read of the threads' system calls, None when an idle thread
    was not back in its call yet (``with_futex_settled`` then reads again). Blocking: the
    capture runs it on its worker thread, with the process's other reads."""
    try:
        syscalls = memory.thread_syscalls(proc.pid)
    except CaptureError:
        return proc
    return None if settle.resuming(proc.threads, syscalls) else with_futex(proc, syscalls)


async def with_futex_settled(proc: Process) -> Process:
    """``with_futex`` once the process's idle threads are back in their system calls or
    have run since (``capture.settle``)."""
    try:
        syscalls = await settle.syscalls_settled(proc.pid, proc.threads)
    except CaptureError:
        return proc
    return with_futex(proc, syscalls)


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
        shared = call.shared if blocked else None  # type: ignore[union-attr]
        name, timed, fd, child = kernel.describe(call.nr, call.args) if blocked else (None, None, None, None)  # type: ignore[union-attr]
        new = replace(t, futex=futex, futex_shared=shared, syscall=name, timed=timed, fd=fd, child=child)
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
    lock = locks.get(obj.addr) or waited.record(pid, obj, name, where, waited.sem_identity(pid, obj, maps))
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
            owned = waited.owned_lock(mem, proc.pid, stack, thread.futex or 0)
            if owned is not None:  # never in ``known``: the lock object is found through this wait's own frame
                lock = locks.get(owned.addr, owned)
                locks[owned.addr] = replace(lock, waiters=(*lock.waiters, (proc.pid, thread.tid)))
                continue
            found = waited.find_waited(mem, stack, thread.futex or 0, thread.ident)
            if found is None:
                found = waited.find_semaphore(mem, stack, thread.futex or 0)
                if found is not None:  # its futex is this wait's own lock: nothing to share with siblings
                    _add(locks, proc.pid, thread.tid, *found)
                continue
            obj, name, where = found
            known[(version, thread.futex or 0)] = (obj.addr, name, where)
            _add(locks, proc.pid, thread.tid, obj, name, where, mem.maps)


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
        records.extend(await worker.run(semcopies.sibling_semlocks, snapshot, records))
        records = await worker.run(holders.owners_took_at, snapshot, records)
        records = [holders.manager_took_at(snapshot, lock) if lock.manager is not None else lock for lock in records]
    return tuple(records), tuple(dict.fromkeys(notes))
