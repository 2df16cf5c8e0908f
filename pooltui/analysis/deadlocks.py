"""A deadlock said in words: each cycle of the wait-for graph (``analysis.graph``) as one
``Diagnosis`` -- who waits on whom, every edge's evidence, who else is blocked behind it, how
sure (a guess while a thread outside it could still answer once its own wait ends) -- and
the fix for what the cycle goes through (a lock order, a pipe nobody drains, a program fed
and read from one thread, a file object's own lock, the import lock...)."""

from __future__ import annotations

from pooltui.analysis.edge import Edge, Node
from pooltui.analysis.edge import label as _label
from pooltui.analysis.graph import cycles, deadlocked, edges, unless
from pooltui.analysis.locks import lock_key
from pooltui.model import WRITE_CALLS, Certainty, Diagnosis, ErrorCode, Kind, Process, Snapshot, ThreadRole

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
    "held_io": (
        "A thread holds a lock while it waits to read a pipe or socket (recv(), select(), poll()), and the thread that "
        "would write to it needs that lock first: release the lock before the blocking read or poll (take what it "
        "guards, then wait), write without that lock, or give the wait a timeout that is checked."
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


def _unless_words(snapshot: Snapshot, nodes: tuple[Node, ...]) -> str:
    """Said as ``ends`` says a writer that could act only once its own wait ends."""

    def one(node: Node) -> str:
        p = snapshot.process(node[0])
        t = p.thread(node[1]) if p is not None else None
        if t is None:
            return f"thread {node[1]} (pid {node[0]})"
        return f"'{t.label}' (pid {node[0]}, which {t.wait.summary if t.wait else 'waits'})"

    return "; unless " + ", ".join(map(one, nodes[:4])) + " answers once its own wait ends"


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


def diagnose(snapshot: Snapshot) -> list[Diagnosis]:
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
        # a lock held by a thread blocked on a pipe whose only writers need that lock: the lock is the
        # story (a socket's fix says so already: "a lock you hold")
        fix = fix or (_FIX["held_io"] if not queue and set(vias) == {"lock", "pipe"} else "")
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
