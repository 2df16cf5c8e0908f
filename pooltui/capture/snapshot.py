"""One capture of a whole tree: psutil walk, then py-spy dumps of every Python process,
concurrently (bounded), each with its own timeout. The result is a raw ``Snapshot``
(no roles, waits or diagnoses yet: that is ``analysis``).

Per process, any failure becomes ``Process.error``; only the root being gone (or
unreadable) fails the capture as a whole.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterable
from typing import Optional, Union

from pooltui import __version__
from pooltui.capture import direct, dump, interpreters, kernel, locks, procs, pyspy, redact, sourcelines, state, worker
from pooltui.capture.errors import CaptureError, NotPython, PySpyFailed, PySpyMissing
from pooltui.capture.threads import match_tasks
from pooltui.model import CaptureOptions, Process, ProcessStatus, Progress, Snapshot, Thread
from pooltui.model.record import replace

__all__ = ["CaptureOptions", "Progress", "capture_tree", "default_concurrency", "dump_options", "tool_versions"]


def default_concurrency() -> int:
    """Dumps in flight at once: twice the CPUs, at least 2, at most 8.

    Each py-spy needs a CPU for ~10 ms and the pool competes for the same CPUs. Measured
    on 2 CPUs (scripts/bench.py, docs/speed.md): from 1 to 4 in flight a full capture
    of Pool(64) gets faster, beyond 4 it does not (idle) or only by winning CPU share
    from spinning workers, which is the target's loss.
    """
    return max(2, min(8, 2 * procs.cpu_count()))


def dump_options(options: CaptureOptions) -> pyspy.DumpOptions:
    return pyspy.DumpOptions(options.locals, options.native, options.nonblocking, options.timeout)


def _process(info: procs.ProcInfo) -> Process:
    readable = info.error is None and info.status != ProcessStatus.ZOMBIE
    tracer, caught = kernel.tracer_and_signals(info.pid) if readable else (None, None)
    return Process(
        pid=info.pid,
        ppid=info.ppid,
        create_time=info.create_time,
        name=info.name,
        cmdline=info.cmdline,
        status=info.status,
        python=info.python,
        cpu_time=info.cpu_time,
        runq_time=info.runq_time,
        rss=info.rss,
        num_threads=info.num_threads,
        error=info.error,
        exit_code=info.exit_code,
        tracer_pid=tracer,
        caught_signals=caught,
    )


def _walk(root_pid: int) -> list[tuple[procs.ProcInfo, Process]]:
    """The tree (procs.walk_tree) and each process's kernel facts (_process): blocking, on
    the capture's worker thread."""
    return [(info, _process(info)) for info in procs.walk_tree(root_pid)]


def _switches(info: procs.ProcInfo, tid: int) -> Optional[int]:
    sched = info.sched.get(tid)
    return sched[1] if sched is not None else None


def _with_threads(proc: Process, info: procs.ProcInfo, threads: Iterable[Thread]) -> Process:
    # the tasks listed by the walk (before the dump) and now (after it): a thread started
    # in between is as live as any, not a thread state left over from a fork
    live = set(info.thread_cpu) | procs.task_ids(proc.pid)
    matched = match_tasks(proc.pid, list(threads), live, proc.python)
    ordered = sorted(matched, key=lambda t: (t.ghost, t.tid != proc.pid, t.tid))  # main thread first, ghosts last
    read = (replace(t, cpu_time=info.thread_cpu.get(t.tid), switches=_switches(info, t.tid), blocked=info.blocked.get(t.tid)) for t in ordered)
    return replace(proc, threads=tuple(read))


def _finished(
    proc: Process, info: procs.ProcInfo, threads: list[Thread], files: dict, redact_secrets: bool, subinterpreters: Optional[bool] = None
) -> tuple[Process, bool]:
    """``proc`` with its dumped ``threads`` tied to its tasks, their source lines, its count
    of interpreters and its futex facts; False when an idle thread was not back in its
    system call yet (``locks.with_futex_settled`` reads again, on the event loop). Blocking:
    on the capture's worker thread, one hand-off for all of it."""
    proc = interpreters.counted(_with_code(_with_threads(proc, info, threads), files, redact_secrets), subinterpreters)
    settled = locks.with_futex_now(proc)
    return (settled, True) if settled is not None else (proc, False)


def _read_directly(proc: Process, info: procs.ProcInfo, files: dict, redact_secrets: bool) -> direct.Attempt | tuple[Process, bool]:
    """A process read directly and finished (``_finished``) in one hand-off to the worker
    thread, when its binary's direct reads are trusted already; else the attempt, which
    ``dump.dump`` goes on from (a check against py-spy, or py-spy)."""
    found = dump.read_directly(info.pid, info.python, redact_secrets=redact_secrets)
    if found.threads is None or found.key is None or direct.trusted(found.key) is not True:
        return found
    return _finished(proc, info, found.threads, files, redact_secrets, found.subinterpreters)


BATCH = 16  # processes read directly per hand-off to the worker thread (_read_batch)

Read = Union[direct.Attempt, tuple[Process, bool], CaptureError]


def _read_batch(batch: list[tuple[Process, procs.ProcInfo]], files: dict, redact_secrets: bool) -> list[Read]:
    """``_read_directly`` of each process, in one hand-off: the event loop is woken once per
    batch, not once per process. A process's CaptureError (gone meanwhile) is its result."""
    out: list[Read] = []
    for proc, info in batch:
        try:
            out.append(_read_directly(proc, info, files, redact_secrets))
        except CaptureError as exc:
            out.append(exc)
    return out


def _with_code(proc: Process, files: dict, redact_secrets: bool) -> Process:
    """Source lines of every frame, read as the target's user (capture.sourcelines): in a
    worker thread, never on the event loop, each process's files within a deadline."""
    threads = tuple(replace(t, frames=sourcelines.with_code(t.frames, proc.pid, files, redact_secrets=redact_secrets)) for t in proc.threads)
    return replace(proc, threads=threads)


STARTING = 2.0  # seconds: a process this young may not have an interpreter to read yet


def _runtime_of(proc: Process, version: tuple[int, int]) -> Optional[tuple[int, int]]:
    """(address of ``_PyRuntime``, the interpreter it names) in ``proc``, read from its
    memory; None when that cannot be told (or the pid is another process's by now)."""
    from pooltui.capture.memory import stacks

    try:
        with stacks.StackMemory(proc.pid, version) as mem:
            runtime = mem.runtime()
            head = mem._ptr(runtime + mem.stack.interp_head)
            born = procs.create_time_of(proc.pid)
            if born is None or abs(born - proc.create_time) > 0.01:
                return None  # gone, or another process took the pid: what was read is not this one's
            return runtime, head
    except CaptureError:
        return None


def forked_interpreter(child: Process, parent: Process) -> bool:
    """Whether ``child`` holds a copy of its parent's running interpreter: a fork that did
    not exec, its ``_PyRuntime`` at the parent's address (an exec'd interpreter is loaded
    elsewhere: ASLR) and naming an interpreter. Such a child was never "starting": its
    interpreter was up before it existed. False when it cannot be told (a version the
    stack reader has no layout for, 2.7, a process gone)."""
    version = direct.version_of(child.python or parent.python)
    if version is None:
        return False
    mine, theirs = _runtime_of(child, version), _runtime_of(parent, version)
    return mine is not None and theirs is not None and mine[0] == theirs[0] and bool(mine[1])


def _python_parent_of_unread(p: Process, by_pid: dict[int, Process]) -> Optional[Process]:
    """The parent of ``p`` when py-spy found no interpreter in ``p`` ("not Python") but its
    parent, of the same program, was read as Python: a fork that should be Python."""
    parent = by_pid.get(p.ppid)
    if p.error is None or p.error.code != NotPython.code or parent is None or not parent.threads or parent.name != p.name:
        return None
    return parent


def _python_after_all(
    processes: list[Process], created: Optional[float] = None, forked: Callable[[Process, Process], bool] = lambda child, parent: False
) -> list[Process]:
    """py-spy finds no interpreter in a process forked from a Python one of the same binary
    (a uWSGI worker forked without CPython's fork hooks, a child mid-fork): it is Python
    with an interpreter state py-spy cannot read, not "not Python". Unless it had just
    started (``created``: the capture's time): between fork and exec, or before its new
    interpreter is up, there is nothing to read yet, and nothing is wrong. Young is not
    enough: a fork that holds a copy of its parent's running interpreter (``forked``:
    ``forked_interpreter`` in a capture) never had a start-up, so it is broken however
    young (a worker that corrupted its own interpreter state would otherwise hide for 2 s)."""
    by_pid = {p.pid: p for p in processes}
    out = []
    for p in processes:
        parent = _python_parent_of_unread(p, by_pid)
        error = p.error
        if parent is None or error is None:
            out.append(p)
            continue
        age = created - p.create_time if created is not None and p.create_time else None
        if age is not None and age < STARTING and not forked(p, parent):
            message = f"process {p.pid} had just started ({max(age, 0):.1f} s before this capture): no Python interpreter to read yet"
            p = replace(p, error=replace(error, message=message, help="The next refresh reads it, once its interpreter is up."))
        else:
            p = replace(
                p,
                error=replace(
                    error,
                    code=PySpyFailed.code,
                    message=(
                        f"py-spy found no readable Python interpreter state in process {p.pid}, forked from Python process "
                        f"{parent.pid} ({p.name}): its interpreter may be broken by the fork (a lock held at fork time) or mid-fork"
                    ),
                    help="A server that forks without CPython's fork hooks (uWSGI: --py-call-uwsgi-fork-hooks) can leave this; "
                    "look at the parent's threads at fork time.",
                ),
            )
        out.append(p)
    return out


def tool_versions() -> dict[str, str]:
    versions = {"pooltui": __version__}
    try:
        versions["py-spy"] = pyspy.find_pyspy()
    except PySpyMissing:
        versions["py-spy"] = "missing"
    return versions


async def capture_tree(
    root_pid: int,
    options: CaptureOptions = CaptureOptions(),
    *,
    progress: Optional[Progress] = None,
    reuse: Optional[Callable[[procs.ProcInfo], Optional[Process]]] = None,
    on_walk: Optional[Callable[[], None]] = None,
) -> Snapshot:
    """Everything under ``root_pid`` now. ``reuse(info)`` may return a previous Process
    whose stacks are still valid (incremental refresh: no thread ran since they were
    dumped, see ``sources.LiveSource``); it is then not dumped again and marked ``reused``.
    ``on_walk()`` is called once the walk has read every thread's context switches (each
    ``Thread.switches``), before any process is dumped.
    Uses the active ``capture.state`` (a source's), or one of its own for this call."""
    with state.scope():
        return await _capture_tree(root_pid, options, progress, reuse, on_walk)


async def _capture_tree(
    root_pid: int,
    options: CaptureOptions,
    progress: Optional[Progress],
    reuse: Optional[Callable[[procs.ProcInfo], Optional[Process]]],
    on_walk: Optional[Callable[[], None]],
) -> Snapshot:
    created = time.time()
    walked = await worker.run(_walk, root_pid)
    if on_walk is not None:
        on_walk()
    infos = [info for info, _proc in walked]
    exe = pyspy.find_pyspy()  # PySpyMissing fails the capture: no process could be read
    limit = asyncio.Semaphore(options.concurrency or default_concurrency())
    done = 0
    total = len(infos)
    files: dict = {}  # sourcelines' stat cache for this capture: fork siblings share their files
    cmdlines: dict[tuple[str, ...], tuple[str, ...]] = {}  # redacted once per distinct command line (fork siblings share one)
    dumped = dump_options(options)

    def first_look(info: procs.ProcInfo, proc: Process) -> tuple[Process, Optional[Process]]:
        """The process as the walk saw it (command line redacted), and its previous self when
        its stacks are reused."""
        if options.redact:
            if proc.cmdline not in cmdlines:
                cmdlines[proc.cmdline] = redact.redact_cmdline(proc.cmdline)
            proc = replace(proc, cmdline=cmdlines[proc.cmdline])
        readable = info.error is None and info.status != ProcessStatus.ZOMBIE
        return proc, (reuse(info) if reuse and readable else None)

    looks = [first_look(info, proc) for info, proc in walked]
    # the processes read directly first, in batches on the worker thread queued now, in the
    # walk's order (the one worker runs them one after another, as it ran them one by one)
    wanted = [
        (proc, info)
        for (proc, previous), info in zip(looks, infos)
        if info.error is None and info.status != ProcessStatus.ZOMBIE and previous is None and dump.direct_first(dumped, info.python)
    ]
    batches = [worker.run(_read_batch, wanted[n : n + BATCH], files, options.redact) for n in range(0, len(wanted), BATCH)]
    batch_of = {proc.pid: (batches[n // BATCH], n % BATCH) for n, (proc, _info) in enumerate(wanted)}

    async def one(info: procs.ProcInfo, proc: Process, previous: Optional[Process], again: bool = False) -> Process:
        """``proc`` read; ``again``: a second read after a failed first one (no batch's read
        reused, not counted as progress)."""
        nonlocal done
        try:
            if info.error is not None or info.status == ProcessStatus.ZOMBIE:
                return proc
            if previous is not None:
                return replace(
                    previous,
                    cpu_time=info.cpu_time,
                    runq_time=info.runq_time,
                    rss=info.rss,
                    status=info.status,
                    tracer_pid=proc.tracer_pid,
                    reused=True,
                )
            read: Read | None = None
            if info.pid in batch_of and not again:
                batch, index = batch_of[info.pid]
                read = (await batch)[index]
            if isinstance(read, CaptureError):
                raise read
            if read is None or isinstance(read, direct.Attempt):
                async with limit:
                    # redacted before anything else sees the stacks: a secret never enters the Snapshot
                    threads = await dump.dump(
                        info.pid, dumped, redact_secrets=options.redact, exe=exe, sched=info.sched, python=info.python, found=read, settle=False
                    )
                proc, settled = await worker.run(_finished, proc, info, threads, files, options.redact)
            else:
                proc, settled = read
            return proc if settled else await locks.with_futex_settled(proc)
        except CaptureError as exc:
            return replace(proc, error=procs.error_of(exc))
        finally:
            done += not again
            if progress is not None and not again:
                result = progress(done, total)
                if result is not None:
                    await result

    processes = list(await asyncio.gather(*(one(i, *look) for i, look in zip(infos, looks))))
    # a fork py-spy found no interpreter in is read once more before it is called broken: a
    # healthy worker of a 64-worker hot lock pool failed that way once in a CI run on a loaded
    # box (3.11; py-spy searches for the interpreter without pausing the process); a broken
    # fork fails again
    by_pid = {p.pid: p for p in processes}
    unread = [n for n, p in enumerate(processes) if _python_parent_of_unread(p, by_pid) is not None]
    for n, p in zip(unread, await asyncio.gather(*(one(infos[n], looks[n][0], None, again=True) for n in unread))):
        processes[n] = p
    processes = _python_after_all(processes, created, forked_interpreter)
    return Snapshot(
        created=created,
        host=socket.gethostname(),
        root_pid=root_pid,
        processes=tuple(processes),
        tools=tool_versions(),
        options={"locals": options.locals, "native": options.native, "nonblocking": options.nonblocking, "redact": options.redact},
        cpu_count=procs.cpu_count(),
    )
