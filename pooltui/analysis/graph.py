"""The wait-for graph over every kind of wait, and the deadlocks in it.

A node is a thread (pid, tid). An edge says "this thread cannot go on until one of those
threads acts", with the evidence and how it is known:

- a lock, semaphore or RLock: to its holder(s) (``analysis.locks``, read from memory);
- a Future's ``result()``/``wait()``: to the executor threads (or worker processes) running
  work items now -- one of them runs it;
- ``Thread.join``: to that thread (its ident, from py-spy --locals), or to the queue feeder
  threads a ``Queue`` finaliser joins at exit;
- ``Process.join`` (blocked in ``wait4(pid)``, a kernel fact): to the child's main thread;
- a pool result (``map``/``get``): to the pool's workers inside a task;
- a ``Condition.wait()`` whose lock another thread holds (its RLock's owner, read from the
  Condition object): to that thread, the only one that can notify it now;
- a ``Condition``/``Event``/``queue.Queue``/Future wait with no timeout (the kernel says so)
  that no rule above follows: to every other live thread of its process, the only ones
  that could notify, set or fill it (``analysis.wakers``); when each of them waits on
  the waiter in turn, nobody can;
- a blocked ``write()``/``read()``/``recv()``/``send()`` on a pipe or a socket: to the threads
  of every other process of the tree holding the other end (a pipe's inode in /proc/PID/fd;
  a socket's peer inode from sock_diag or /proc/net/tcp) that could act on it: those blocked
  on it the same way (both wait to read: each waits for the other), else those not waiting
  for work nor blocked on other fds (``capture.ends`` reads what a select/poll watches).

Several targets mean "any of them" (whoever runs the future). A set of threads each of
which waits only on threads of the same set can never move: a deadlock. That is found
as the largest such set (remove every thread that waits on someone outside it, until
nothing changes); each cycle in it is reported once, with every edge's evidence. A
timed wait is never part of one (it ends by itself).
"""

from __future__ import annotations

from pooltui.analysis import filelocks, importlock, iolocks, managers, shared, wakers
from pooltui.analysis.edge import Edge, Node, labels
from pooltui.analysis.edge import at as _at
from pooltui.analysis.edge import label as _label
from pooltui.analysis.edge import live as _live
from pooltui.analysis.ends import end_edges
from pooltui.analysis.frames import find, origin
from pooltui.analysis.locks import KIND_LABEL, OWNED_LABEL, _frame_text, kind_label, lock_key
from pooltui.analysis.workedges import future_edges, join_edges, pool_edges
from pooltui.model import FD_CALLS as FD_CALLS
from pooltui.model import (
    WRITE_CALLS,
    Certainty,
    Diagnosis,
    ErrorCode,
    Kind,
    Lock,
    LockHolder,
    LockKind,
    Process,
    ProcessStatus,
    Snapshot,
    Thread,
    ThreadRole,
    WaitKind,
)

_FIX = {
    "lock": "Take the locks in one global order everywhere (or use a single lock), or acquire with a timeout and back off.",
    "future": (
        "Never wait for a future (or join a thread) while holding a lock that the work it waits for needs: release the lock "
        "before result()/join(), or give the work what it needs as an argument."
    ),
    "pool": "A pool task must not need a lock its parent holds while waiting for the results: release it before map()/get().",
    "callback": (
        "A pool's callbacks run on its result handler thread, the one thread that delivers every result: a callback must "
        "never block on what the waiting thread holds (a lock taken around map_async()/get()). Release it before waiting, "
        "or have the callback only hand the result on (a queue.Queue) and do the work in the waiting thread."
    ),
    "condition": (
        "Do not wait for another thread (join, result, a lock) while holding a Condition's lock: leave the `with cond:` "
        "block first, or notify before waiting."
    ),
    "socket": (
        "Each side of a connection waits for the other: never block on a reply from a process or thread that is itself "
        "waiting for you (its pool results, its join, a lock you hold); give every recv() a timeout, or answer from a "
        "thread that waits on nothing else."
    ),
    "notify": (
        "Nothing left in this process can notify, set or fill what these threads wait on: every thread that could waits on "
        "them in turn. Notify (or set, put) before waiting on anything else, never wait while holding what the notifier "
        "needs, create the notifying thread in the process that waits (after fork), and wait with a timeout that is checked."
    ),
    "program": (
        "A program started with pipes for both its input and its output fills its output pipe while it is still being "
        "fed, and waits for it to be read: use Popen.communicate(input) (it writes and reads at once), read the output in "
        "another thread, or send the output to a file."
    ),
    "program_out": (
        "A program started with pipes for two of its outputs (stdout and stderr) fills one while the other is read to "
        "its end, and waits for it to be read: use Popen.communicate() (it reads both at once), read one in another "
        "thread, or send stderr to stdout (stderr=STDOUT) or to a file."
    ),
    "exit": (
        "A process waits for a child to exit (Popen.wait(), join(), os.waitpid()) without reading the pipe the child "
        "writes to (its stdout or stderr): once the pipe holds 64 KiB the child blocks in write() and never exits. Read "
        "while waiting: Popen.communicate() reads the output to its end, then waits; or drain the pipe in a thread, or "
        "send the output to a file or DEVNULL."
    ),
    "program_eof": (
        "A program that reads its input to the end never ends while the write end of that pipe stays open, and the process "
        "waiting for it to exit holds it (Popen(stdin=PIPE) never closed): close p.stdin before wait(), or use "
        "Popen.communicate(input), which closes it."
    ),
    "loop": (
        "Code running on an event loop must not block on run_coroutine_threadsafe(coro, loop).result() for that same "
        "loop: the loop runs the coroutine only once the wait ends. From a coroutine, await the coroutine itself; offer "
        "the sync helper to other threads only (or check asyncio.get_running_loop() is not the target loop)."
    ),
    "nested": (
        "A task waits for the result of another task of its own executor: once every worker waits so, the work they wait "
        "for never runs. Do not wait on futures inside an executor's tasks: chain them (add_done_callback), or submit the "
        "inner work to another executor."
    ),
    "import": (
        "On Python 2 every import holds one lock for all imports until the imported module's top-level code ends: a "
        "thread that imports anything meanwhile (a lazy import inside the standard library too, such as "
        "time.strptime's) waits for it. Never start a thread and wait for it (join, a result, an Event) in a module's "
        "top-level code: do that in a function called once the imports are done."
    ),
    "io": (
        "Threads share one file or socket object, and one of them blocks inside a read or write on it while holding the "
        "object's own lock: every other thread that calls it waits behind. Give each thread its own file or connection, "
        "or make that read or write end (a timeout; a reader or writer at the pipe's other end)."
    ),
    "pipes": (
        "Each process writes into a full pipe that the other reads only once its own write ends: never write more than "
        "a pipe holds (64 KiB) to a process that is itself writing to you; read and write at once (a thread, or "
        "select/poll), or send the data through a file."
    ),
    "reads": (
        "Each side waits to read what the other has not written: the message that would start the exchange is never "
        "sent, or the one that would send it waits on the reader in turn (its join, its result). Have one side write "
        "first, close in each process the pipe ends it does not use (a reader then sees EOF once its writers are gone), "
        "and read with a timeout (Connection.poll(t), select)."
    ),
    "file": (
        "A process holds a lock on a file (flock, fcntl, lockf) while it waits for the one that wants it: release the "
        "file lock before waiting on anything else, take file locks in one global order, or lock with LOCK_NB / F_SETLK "
        "and retry with a timeout. flock() locks belong to the open file: one process that opens the file twice blocks itself."
    ),
    "shared": (
        "Every process that could set, notify or fill this multiprocessing Event, Condition, Semaphore or Queue waits, in "
        "turn, on the waiter: set (notify, put) before waiting on the waiter (join(), map(), get()), from a thread that "
        "waits on nothing else, and wait with a timeout that is checked."
    ),
    "accept": (
        "Every process that could send the Manager the request that ends a wait inside it (set its Event, put into its "
        "Queue) waits, in turn, on that wait: set (put) before waiting on the waiter (join(), map(), get()), and wait on a "
        "Manager object with a timeout."
    ),
    "pipe": (
        "Drain a multiprocessing.Queue before joining the process that put into it (the 'joining processes that use "
        "queues' rule in the multiprocessing docs): get() everything, then join(); or use Manager().Queue()."
    ),
}


def _lock_edges(snapshot: Snapshot) -> list[Edge]:
    threads = {(p.pid, t.tid): t for p in snapshot.processes for t in p.threads}
    out = []
    for lock in snapshot.locks:
        holders = [h for h in (lock.holders or ((lock.holder,) if lock.holder else ())) if h is not None and h.alive and h.tid is not None]
        certainty, held_by = Certainty.FACT, "is held by"
        if not holders:
            holders, certainty, held_by = _could_hold(lock, threads), Certainty.INFERRED, "could only be held by"
        if not holders:
            continue
        targets = tuple((h.pid, h.tid) for h in holders if h.tid is not None)  # all have a tid (both lists keep only those)
        for w in lock.waiters:
            t = threads.get(w)
            if t is None or not _live(t) or t.wait is None or t.wait.lock_id not in (lock.id, None) or w in targets:
                continue
            why = [f" ({h.evidence})" if certainty is Certainty.INFERRED and h.evidence else "" for h in holders]
            held = ", ".join(_label(snapshot, n) + because for n, because in zip(targets, why))
            label = kind_label(lock) if lock.type_name in OWNED_LABEL else KIND_LABEL.get(lock.kind, lock.kind)
            out.append(
                Edge(
                    w,
                    targets,
                    "lock",
                    f"{_label(snapshot, w)} waits to lock {lock.name} ({label}){_addr(lock)} {_frame_text(t)}, which {held_by} {held}",
                    certainty,
                    lock_key(lock),
                )
            )
    return out


def _addr(lock: Lock) -> str:
    """ " <0x7f..>" unless the lock's name already carries its address (``locks._told_apart``)."""
    addr = f" <0x{lock.addr:x}>"
    return "" if lock.name.endswith(addr[1:]) else addr


def _could_hold(lock: Lock, threads: dict[Node, Thread]) -> list[LockHolder]:
    """The live threads a lock that records no owner (a plain Lock taken with ``acquire()``)
    could be held by, from their own source and locals (``capture.holders``: past
    ``NAME.acquire()`` with NAME this object, no release since): one of them holds it."""
    if lock.kind not in (LockKind.LOCK, LockKind.SEMAPHORE):
        return []
    waiting = set(lock.waiters)
    out = []
    for h in lock.could_hold:
        t = threads.get((h.pid, h.tid)) if h.tid is not None else None
        if t is not None and not t.ghost and (h.pid, h.tid) not in waiting:
            out.append(h)
    return out


def objects_to_read(snapshot: Snapshot) -> dict[int, set[int]]:
    """{pid: {tid}} of threads in ``Thread.join()`` whose joined thread is not known, or in
    ``Condition.wait()`` without a timeout, in a process where another thread waits on
    something the graph follows (a cycle could go through them): the capture reads which
    thread is joined, and who holds the Condition's lock (``capture.joins``)."""
    joins = join_edges(snapshot)
    found = [*_lock_edges(snapshot), *future_edges(snapshot), *pool_edges(snapshot), *joins]
    busy = {e.waiter[0] for e in found} | {t[0] for e in found for t in e.targets}
    out: dict[int, set[int]] = {}
    for e in joins:
        if e.certainty is Certainty.GUESS and e.waiter[0] in busy:
            out.setdefault(e.waiter[0], set()).add(e.waiter[1])
    for p in snapshot.processes:
        for t in p.threads:
            if p.pid in busy and _awaits_notify(t) and t.notifier is None:
                out.setdefault(p.pid, set()).add(t.tid)
    return out


def _awaits_notify(t: Thread) -> bool:
    """A thread in a plain ``threading.Condition.wait()`` (not an Event, queue or pool result
    built on one: the frame that calls it is not the standard library's), with no timeout."""
    if not _live(t) or t.wait is None or t.wait.kind is not WaitKind.CONDITION:
        return False
    index = find(t.frames, "threading.py", "wait")
    caller = next((f for f in t.frames[index + 1 :] if not f.native), None) if index is not None else None
    return caller is not None and origin(caller) != "stdlib"


def _condition_edges(snapshot: Snapshot) -> list[Edge]:
    """A thread waiting on a Condition whose lock another thread holds waits on that thread:
    only the holder can notify it (``notify()`` needs the lock), and the waiter cannot return
    before it gets the lock back. The holder is the Condition's RLock's recorded owner -- read
    at another instant than the waiter's stack: a waiter seen to run when read again
    (``Thread.ran``) no longer waits where it was read (two threads handing a turn through
    one Condition, each read waiting while the other held the lock, were a deadlock)."""
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            if not t.notifier or t.ran or not _awaits_notify(t):
                continue
            holder = next((x for x in p.threads if x.ident == t.notifier and not x.ghost and x.tid != t.tid), None)
            if holder is None:
                continue
            me, them = (p.pid, t.tid), (p.pid, holder.tid)
            out.append(
                Edge(
                    me,
                    (them,),
                    "condition",
                    f"{_label(snapshot, me)} waits on a Condition at {_at(t)} whose lock is held by {_label(snapshot, them)} "
                    "(its RLock's recorded owner): only that thread can notify it, and the waiter cannot return before it releases the lock",
                    Certainty.FACT,
                )
            )
    return out


_NO_USER_CODE = (ThreadRole.WORKER_HANDLER,)  # a Pool's thread that only replaces workers: it notifies nothing of the user's


def _notify_edges(snapshot: Snapshot, followed: set[Node]) -> list[Edge]:
    """A thread waiting on a process-private primitive (a ``threading.Condition``/``Event``,
    a ``queue.Queue``, a Future: ``wakers.primitive``) with no timeout -- a kernel fact, and
    not seen to run -- that no other edge follows can be ended only by another live thread
    of its own process (a thread of the parent does not exist after fork): it waits on all
    of them. Who could end it is not known better than that, so any one of them that is
    free (running, in a timed wait, waiting for work, or on something the graph does not
    follow) ends it; when every one of them waits, in turn, on the waiter, nobody can. In
    the main thread of CPython 3 a signal handler could end it too: then a guess."""
    out = []
    for p in snapshot.processes:
        if p.status == ProcessStatus.ZOMBIE:
            continue
        for t in p.threads:
            me = (p.pid, t.tid)
            if me in followed or not _live(t) or t.ran or t.timed is not False or t.wait is None:
                continue
            what = wakers.private_wait(t) if t.wait.kind is not WaitKind.JOIN else None
            others = tuple(
                (p.pid, x.tid)
                for x in p.threads
                if x.tid != t.tid and not x.ghost and x.role not in _NO_USER_CODE and not managers.waits_for_shutdown(x)
            )
            if what is None or not others:
                continue  # alone: wakers.lone_waits says nobody can
            handler = t.tid == p.pid and wakers.signal_handlers(p) is not False
            names = labels(snapshot, others)
            text = (
                f"{_label(snapshot, me)} waits, without a timeout, on {what} at {_at(t)}: only a thread of pid {p.pid} can end it, "
                f"and it has {names}" + (" (or a signal handler in its main thread)" if handler else "")
            )
            nested = "Future" in what and find(t.frames, "concurrent/futures/thread.py", "run", "_worker") is not None
            if nested:
                text += "; it runs inside one of its executor's own workers, so the work it waits for may be queued behind it"
            out.append(Edge(me, others, "nested" if nested else "notify", text, Certainty.GUESS if handler else Certainty.INFERRED))
    return out


def edges(snapshot: Snapshot) -> list[Edge]:
    found = [*_lock_edges(snapshot), *future_edges(snapshot), *join_edges(snapshot), *pool_edges(snapshot), *_condition_edges(snapshot)]
    found += filelocks.edges(snapshot) + importlock.edges(snapshot) + iolocks.edges(snapshot)
    found += managers.could_hold_edges(snapshot) + managers.in_flight_edges(snapshot) + managers.accepter_edges(snapshot)
    followed = {e.waiter for e in found}
    # a notify edge is weaker than these ("any thread of its process could"): its waiter is
    # not one the ends take as certain to answer once its wait ends (``ends._writers``: then a guess)
    return found + _notify_edges(snapshot, followed) + shared.edges(snapshot, followed) + end_edges(snapshot, followed)


def deadlocked(graph: list[Edge]) -> dict[Node, Edge]:
    """The threads that wait only on each other: no way out without someone acting. An
    edge's ``soft`` targets may be outside (it is then a guess: ``unless``) when the others,
    at least one, are inside."""
    out: dict[Node, Edge] = {}
    for e in graph:
        out.setdefault(e.waiter, e)
    changed = True
    while changed:
        changed = False
        for node, e in list(out.items()):
            hard = [t for t in e.targets if t not in e.soft] or e.targets
            if any(t not in out for t in hard):
                del out[node]
                changed = True
    return out


def unless(e: Edge, stuck: dict[Node, Edge]) -> tuple[Node, ...]:
    """The soft targets of ``e`` that are not stuck: each could still act on it."""
    return tuple(t for t in e.soft if t not in stuck)


def _unless_words(snapshot: Snapshot, nodes: tuple[Node, ...]) -> str:
    """Said as ``ends`` says a writer that could act only once its own wait ends."""

    def one(node: Node) -> str:
        p = snapshot.process(node[0])
        t = p.thread(node[1]) if p is not None else None
        if t is None:
            return f"thread {node[1]} (pid {node[0]})"
        return f"'{t.label}' (pid {node[0]}, which {t.wait.summary if t.wait else 'waits'})"

    return "; unless " + ", ".join(map(one, nodes[:4])) + " answers once its own wait ends"


def cycles(stuck: dict[Node, Edge]) -> list[list[Node]]:
    """Each cycle of the deadlocked set once (following the first target inside it)."""
    found: list[list[Node]] = []
    seen: set[Node] = set()
    for start in stuck:
        path: list[Node] = []
        index: dict[Node, int] = {}
        node = start
        while node in stuck and node not in index and node not in seen:
            index[node] = len(path)
            path.append(node)
            node = next(t for t in stuck[node].targets if t in stuck)
        if node in index:
            found.append(path[index[node] :])
        seen.update(path)
    return found


def _writes(procs: dict[int, Process], node: Node) -> bool:
    """The thread is blocked writing (a pipe, a socket), not reading."""
    t = procs[node[0]].thread(node[1]) if node[0] in procs else None
    return t is not None and t.syscall in WRITE_CALLS


def _waits_for_its_writer(chain: list[Edge], procs: dict[int, Process]) -> bool:
    """A thread of the cycle waits for a process to exit (a join: wait4) while a thread of
    that process is blocked writing into a pipe only the waiting thread could read."""
    return any(
        j.via == "join" and e.via == "pipe" and _writes(procs, e.waiter) and e.waiter[0] in {pid for pid, _ in j.targets} and j.waiter in e.targets
        for j in chain
        for e in chain
    )


def _on_a_files_lock(e: Edge, owned: dict[str, str]) -> bool:
    """The wait is for a file or socket object's own lock: read from memory (a buffered
    file's, ``subject`` its lock's key) or inferred (``iolocks``: a C FILE's)."""
    return e.via == "io" or (e.via == "lock" and owned.get(e.subject, "").startswith("_io.Buffered"))


def deadlocks(snapshot: Snapshot) -> list[Diagnosis]:
    stuck = deadlocked(edges(snapshot))
    out = []
    for cycle in cycles(stuck):
        chain = [stuck[n] for n in cycle]
        vias = [e.via for e in chain]
        pids = tuple(dict.fromkeys(n[0] for n in cycle))
        where = f"threads in {len(pids)} processes" if len(pids) > 1 else "threads"
        names = " -> ".join(_label(snapshot, n) for n in cycle)
        what = "a lock another one holds" if set(vias) == {"lock"} else "another one (" + ", ".join(dict.fromkeys(_VIA_WORDS[v] for v in vias)) + ")"
        others = [n for n in stuck if n not in cycle and any(t in cycle for t in stuck[n].targets)]
        maybe = {e.waiter: unless(e, stuck) for e in chain}
        certainty = max((Certainty.GUESS if maybe[e.waiter] else e.certainty for e in chain), key=lambda c: c.rank)
        found = (snapshot.process(pid) for pid in pids)
        programs = [p for p in found if p is not None and p.error is not None and p.error.code == ErrorCode.NOT_PYTHON]
        procs = {p.pid: p for p in snapshot.processes}
        owned = {lock_key(lock): lock.type_name for lock in snapshot.locks}
        queue = any((t := procs[pid].thread(tid) if pid in procs else None) is not None and t.role == ThreadRole.QUEUE_FEEDER for pid, tid in cycle)
        ran = {p.pid for p in programs}
        awaited = any(e.via == "join" and e.waiter[0] not in ran and any(pid in ran for pid, _tid in e.targets) for e in chain)  # its exit
        # a Python thread of the cycle writes to a program (feeds it) -- or only reads from it
        fed = any(e.via == "pipe" and e.waiter[0] not in ran and _writes(procs, e.waiter) for e in chain)
        fix = _FIX["exit"] if not queue and _waits_for_its_writer(chain, procs) else ""
        fix = fix or (_FIX["program_eof" if awaited else "program" if fed else "program_out"] if programs else "")
        fix = fix or (_FIX["io"] if any(_on_a_files_lock(e, owned) for e in chain) else "")
        fix = fix or next((_FIX[v] for v in ("pipe", "socket") if v in vias), "")
        if fix == _FIX["pipe"] and not queue:
            # no multiprocessing.Queue in it: plain pipes, written both ways into full ones -- or only read
            fix = _FIX["pipes" if any(e.via == "pipe" and _writes(procs, e.waiter) for e in chain) else "reads"]
        fix = fix or next((_FIX[v] for v in ("nested", "import") if v in vias), "")
        fix = fix or " ".join(dict.fromkeys(_FIX[_FIX_OF[v]] for v in vias if v != "lock" or set(vias) == {"lock"}))
        lead = "Probably a deadlock" if certainty is Certainty.GUESS else "Deadlock"
        out.append(
            Diagnosis(
                kind=Kind.DEADLOCK,
                certainty=certainty,
                subject="threads " + ",".join(f"{p}/{t}" for p, t in sorted(cycle)),
                summary=(
                    f"{lead}: {names} waits for itself ({what.removeprefix('another one (').rstrip(')')}); it cannot go on."
                    if len(cycle) == 1
                    else f"{lead}: {len(cycle)} {where} each wait for {what}; none can go on ({names} -> back)."
                ),
                pids=pids,  # the cycle's; who is blocked behind it is in the evidence
                tids=tuple(n[1] for n in cycle),
                evidence=tuple(e.evidence + (_unless_words(snapshot, maybe[e.waiter]) if maybe[e.waiter] else "") for e in chain)
                + tuple(f"also blocked behind it: {_label(snapshot, n)}" for n in others[:8]),
                fix=fix or _FIX["lock"],
            )
        )
    return out


_FIX_OF = {
    "lock": "lock",
    "future": "future",
    "join": "future",
    "pool": "pool",
    "callback": "callback",
    "pipe": "pipe",
    "socket": "socket",
    "condition": "condition",
    "notify": "notify",
    "file": "file",
    "shared": "shared",
    "accept": "accept",
    "loop": "loop",
    "import": "import",
    "io": "io",
}
_VIA_WORDS = {
    "lock": "a lock",
    "future": "a future",
    "join": "a join",
    "pool": "pool results",
    "callback": "pool results held in a callback",
    "pipe": "a pipe",
    "socket": "a socket",
    "condition": "a Condition's notify",
    "notify": "a notify, set, put or release",
    "nested": "work queued behind it",
    "file": "a lock on a file",
    "shared": "a set, notify, put or release from another process",
    "accept": "a request to a Manager",
    "loop": "a coroutine of its own event loop",
    "import": "the import lock",
    "io": "a file's own lock",
}
