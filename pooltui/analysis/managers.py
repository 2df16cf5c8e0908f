"""Manager locks: a ``Manager().Lock()`` waited on through its proxy.

The lock lives in the Manager's server process; a client's ``acquire()`` (``with proxy:``)
is run there by the server thread serving that client's connection, which blocks on the
lock while the client blocks reading the answer. ``capture.managers`` reads, per client
connection, its last request (``Lock.manager``). Conclusions, after ``analysis.locks``:

- each blocked server thread is a waiter on "the Manager's Lock <id>" for its client;
- each client thread waiting in an AcquirerProxy call waits on that lock (pid M), not on
  a pipe -- matched to its server thread by the connection's socket (the client's pid);
- the holder is the client whose connection's last request was ``acquire`` of that lock
  and returned True (how known: said so); else "could hold: the clients connected";
- it can never be released (error, ``abandoned_lock``) when its holder's task ended (the
  holder is an idle pool worker), or when every client still connected waits on it (the
  one that took it has gone: its connection, and its server thread, are gone); read from
  the Manager and its clients at different instants, so an error only once its waiters,
  read again a moment later, had not moved (``Lock.confirmed``, ``sources``).
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.edge import Edge, label, labels, live, user_threads
from pooltui.analysis.frames import find, innermost_user, matches
from pooltui.analysis.locks import lock_key
from pooltui.model import (
    Certainty,
    Diagnosis,
    Kind,
    Lock,
    LockHolder,
    ManagerClient,
    ManagerObject,
    Process,
    ProcessRole,
    ProcessStatus,
    Snapshot,
    Thread,
    ThreadRole,
    Wait,
    WaitKind,
)
from pooltui.model.record import replace

PROXY_PHRASE = "waits on the Manager's lock"
_ACQUIRES = ("acquire", "__enter__")


def lock_name(manager: ManagerObject) -> str:
    return f"the Manager's {manager.typeid or 'lock'} {manager.ident}"


def _client_thread(proc: Optional[Process], name: str) -> Optional[Thread]:
    """The client's thread: the Manager names a connection "PROCESS" (main thread) or
    "PROCESS|THREAD"."""
    if proc is None:
        return None
    _, bar, thread_name = name.partition("|")
    if not bar:
        return proc.thread(proc.pid)
    return next((t for t in proc.threads if t.name == thread_name), None)


def _waiting_clients(snapshot: Snapshot) -> set[tuple[Optional[int], str]]:
    """(pid, name) of every client whose server thread is blocked on a Manager lock now."""
    return {(c.pid, c.name) for lock in snapshot.locks if lock.manager is not None for c in lock.manager.clients if c.waiting}


def _in_flight(thread: Optional[Thread], c: ManagerClient, elsewhere: set[tuple[Optional[int], str]]) -> bool:
    """The client's thread is inside an acquire() through its proxy while its server thread
    is not blocked on any Manager lock: the request or its answer is in flight. Its
    connection's last request, read from the Manager at another instant than the client,
    says nothing sure about who holds the lock now (read while it changed hands)."""
    wait = thread.wait if thread is not None else None
    return wait is not None and wait.kind is WaitKind.MANAGER_CALL and wait.summary.startswith(PROXY_PHRASE) and (c.pid, c.name) not in elsewhere


def _holders(lock: Lock, manager: ManagerObject, snapshot: Snapshot) -> list[tuple[ManagerClient, LockHolder]]:
    """The clients whose connection's last request was an acquire() of ``lock`` that returned
    True; not one seen still waiting in an acquire() (a contradiction: a racy read)."""
    out = []
    elsewhere = _waiting_clients(snapshot)
    for c in manager.clients:
        if c.waiting or c.last_call not in _ACQUIRES or c.result in ("False", "None"):
            continue
        proc = snapshot.process(c.pid) if c.pid else None
        thread = _client_thread(proc, c.name)
        if _in_flight(thread, c, elsewhere):
            continue
        tid = thread.tid if thread else None
        # where it took the lock: its own source, spelled as the waiting clients spell the proxy (capture.locks)
        took = next((h.evidence for h in lock.could_hold if tid is not None and (h.pid, h.tid) == (c.pid, tid)), "")
        out.append((c, LockHolder(pid=c.pid or 0, tid=tid, ident=thread.ident if thread else None, thread_name=c.name, evidence=took)))
    return out


def _who(c: ManagerClient) -> str:
    if c.name.startswith("thread "):  # 2.7: py-spy shows no thread names
        return f"the client served by Manager thread {c.server_tid}" + (f" (pid {c.pid})" if c.pid else "")
    return f"client '{c.name}'" + (f" (pid {c.pid})" if c.pid else "")


def _at(thread: Thread) -> tuple[Optional[int], str]:
    index = thread.wait.frame_index if thread.wait and thread.wait.frame_index is not None else innermost_user(thread.frames)
    if index is None:
        return None, ""
    f = thread.frames[index]
    return index, f" in {f.function}, {f.where}"


def resolve(snapshot: Snapshot) -> Snapshot:
    """Name Manager locks, their holder and every waiter on both sides of the connection."""
    locks = []
    lines: dict[tuple[int, int], Wait] = {}
    for lock in snapshot.locks:
        if lock.manager is None:
            locks.append(lock)
            continue
        locks.append(_resolve_one(lock, lock.manager, snapshot, lines))
    if not lines:
        return snapshot.with_(locks=tuple(locks))
    processes = tuple(
        replace(p, threads=tuple(replace(t, wait=lines[(p.pid, t.tid)]) if (p.pid, t.tid) in lines else t for t in p.threads))
        for p in snapshot.processes
    )
    return snapshot.with_(locks=tuple(locks), processes=processes)


def _resolve_one(lock: Lock, manager: ManagerObject, snapshot: Snapshot, lines: dict[tuple[int, int], Wait]) -> Lock:
    name = lock_name(manager)
    held = _holders(lock, manager, snapshot)
    connected = [c for c in manager.clients if not c.waiting]
    if held:
        holder_text = ", ".join(_who(c) + (f", {h.evidence}" if h.evidence else "") for c, h in held)
        note = f"{', '.join(_who(c) for c, _ in held)}: its connection's last request to the Manager was acquire() (it returned True)"
    else:
        holder_text = "not known"
        others = ", ".join(f"'{c.name}'" for c in connected)
        note = "a Manager Lock records no owner; " + (
            f"could hold: clients connected to the Manager ({others})" if others else "no connected client could release it"
        )
        unsure = [c for c in manager.clients if c.last_call in _ACQUIRES and c.result == "True" and not c.waiting]
        if unsure:
            note += (
                f"; {', '.join(_who(c) for c in unsure)}: its last acquire() returned True, but its thread was seen still in an "
                "acquire() (read while the lock changed hands): not said to hold it"
            )
    holder = held[0][1] if held and held[0][1].pid else None
    waiters = list(lock.waiters)
    for c in manager.clients:
        if not c.waiting:
            continue
        server = (lock.pid, c.server_tid)
        wait = _server_wait(snapshot, server, c, name, holder_text, lock.id)
        if wait is not None:
            lines[server] = wait
        client = _client_thread(snapshot.process(c.pid) if c.pid else None, c.name)
        if client is not None and client.wait is not None and (client.wait.summary.startswith(PROXY_PHRASE) or client.wait.lock_id == lock.id):
            index, at = _at(client)
            held_by = f"held by {holder_text}" if held else holder_text
            summary = f"waits on {name} (pid {lock.pid}) {held_by}" if held else f"waits on {name} (pid {lock.pid}): holder {held_by}"
            lines[(c.pid or 0, client.tid)] = client.wait.reworded(
                kind=WaitKind.LOCK, summary=summary + at, frame_index=index, lock_id=lock.id, holder=holder_text
            )
            waiters.append((c.pid or 0, client.tid))
    return replace(lock, name=name, holder=holder, holders=tuple(h for _, h in held if h.pid), note=note, waiters=tuple(dict.fromkeys(waiters)))


def _server_wait(snapshot: Snapshot, server: tuple[int, int], c: ManagerClient, name: str, holder_text: str, lock_id: str) -> Optional[Wait]:
    proc = snapshot.process(server[0])
    thread = proc.thread(server[1]) if proc is not None else None
    if thread is None or thread.wait is None:
        return None
    held = f"held by {holder_text}" if holder_text != "not known" else "its holder not known"
    summary = f"runs the acquire() of {_who(c)} on {name} and waits on it, {held}"
    return thread.wait.reworded(kind=WaitKind.LOCK, summary=summary, lock_id=lock_id, holder=holder_text)


def diagnose(snapshot: Snapshot) -> list[Diagnosis]:
    """``abandoned_lock`` (error): a Manager lock nobody will release."""
    out = []
    for lock in snapshot.locks:
        manager = lock.manager
        if manager is None or not any(c.waiting for c in manager.clients) or lock.confirmed is False:
            continue  # a waiter moved on a moment later (analysis.plan.confirmations): it changed hands
        held = _holders(lock, manager, snapshot)
        connected = [c for c in manager.clients if not c.waiting]
        why = ""
        if held:
            ended = [c for c, h in held if _task_ended(snapshot, c, h)]
            if ended and len(ended) == len(held):
                why = f"its holder, {_who(ended[0])}, took it and its task ended without releasing it (the worker is idle)"
        elif not connected:
            why = "every client still connected to the Manager waits on it: the one that took it is gone"
        if not why:
            continue
        waiting = [c for c in manager.clients if c.waiting]
        out.append(
            Diagnosis(
                kind=Kind.ABANDONED_LOCK,
                # its holder and the waiters are read from different processes at different
                # instants: a conclusion only once the waiters, read again, had not moved
                certainty=Certainty.GUESS if lock.confirmed is None else Certainty.FACT if held else Certainty.INFERRED,
                subject=lock_key(lock),
                summary=f"{lock.name} (Manager pid {lock.pid}) can never be released: {why}. {len(waiting)} client(s) wait on it forever.",
                pids=tuple(dict.fromkeys([lock.pid, *(c.pid for c in waiting if c.pid), *(c.pid for c, _ in held if c.pid)])),
                tids=tuple(c.server_tid for c in waiting),
                evidence=tuple(
                    f"Manager thread {c.server_tid} serving '{c.name}': "
                    + (
                        "running acquire() now (blocked)"
                        if c.waiting
                        else f"last request {c.last_call or 'on another object'}" + (f" -> {c.result}" if c.result else "")
                    )
                    for c in manager.clients
                )
                + (("its waiters, read again a moment later, had not moved",) if lock.confirmed else ()),
                fix="Take a Manager lock only in a `with` block (never acquire() without a try/finally release()); restart the Manager to free it.",
            )
        )
    return out


def _task_ended(snapshot: Snapshot, c: ManagerClient, h: LockHolder) -> bool:
    """The holder client is gone, or is a worker idle between tasks: nothing will release."""
    proc = snapshot.process(c.pid) if c.pid else None
    if proc is None:
        return False  # not known which process it is
    if proc.status in (ProcessStatus.ZOMBIE, ProcessStatus.GONE):
        return True
    thread = proc.thread(h.tid) if h.tid else None
    return thread is not None and thread.wait is not None and thread.wait.kind is WaitKind.IDLE


def could_hold_edges(snapshot: Snapshot) -> list[Edge]:
    """Wait-for edges of a Manager Lock whose holder is not known: each waiter (the client's
    thread and its server thread) waits on any client still connected to the Manager and not
    waiting on this lock -- one of them took it. A guess: a set of such clients that all wait
    on each other (two workers each holding one Manager Lock and acquiring the other's, their
    parent waiting for the pool's results) is probably a deadlock; one connected client
    doing anything else takes the set apart."""
    out = []
    for lock in snapshot.locks:
        manager = lock.manager
        if manager is None or lock.holders or lock.holder is not None:
            continue
        targets = []
        for c in manager.clients:
            if not c.pid or c.waiting:
                continue
            t = _client_thread(snapshot.process(c.pid), c.name)
            if t is not None and not t.ghost:
                targets.append((c.pid, t.tid))
        if not targets:
            continue  # nobody connected could release it: abandoned_lock says so
        names = ", ".join(label(snapshot, n) for n in targets)
        for w in lock.waiters:
            proc = snapshot.process(w[0])
            t = proc.thread(w[1]) if proc is not None else None
            if t is None or not live(t) or w in targets:
                continue
            out.append(
                Edge(
                    w,
                    tuple(targets),
                    "lock",
                    f"{label(snapshot, w)} waits on {lock.name} (pid {lock.pid}), whose holder a Manager does not record: "
                    f"one of the clients connected to it took it ({names})",
                    Certainty.GUESS,
                    lock_key(lock),
                )
            )
    return out


def in_flight_edges(snapshot: Snapshot) -> list[Edge]:
    """Wait-for edges of a client thread inside a call through a Manager proxy whose server
    thread is not blocked on a Manager lock (its request or the answer in flight): it waits
    for the one server thread that serves its connection, not for whichever thread of the
    Manager process a socket's ends would name (a server thread blocked on the lock for
    another client is none of its business). That server thread, running or idle, ends the
    wait: no cycle goes through a request in flight."""
    out: dict[tuple[int, int], Edge] = {}
    for lock in snapshot.locks:
        manager = lock.manager
        if manager is None:
            continue
        for c in manager.clients:
            if not c.pid or c.waiting:
                continue
            t = _client_thread(snapshot.process(c.pid), c.name)
            if t is None or not live(t) or t.wait is None or t.wait.kind is not WaitKind.MANAGER_CALL:
                continue
            me, server = (c.pid, t.tid), (lock.pid, c.server_tid)
            out.setdefault(
                me,
                Edge(
                    me,
                    (server,),
                    "socket",
                    f"{label(snapshot, me)} {t.wait.summary}: its request, or the answer, is in flight on its connection, "
                    f"served by {label(snapshot, server)} (Manager thread {c.server_tid})",
                    Certainty.INFERRED,
                ),
            )
    return list(out.values())


def accepts(t: Thread) -> bool:
    """A Manager thread waiting for a new connection: 3.x's accepter thread; 2.7's main thread,
    whose ``serve_forever`` loop accepts (``c = self.listener.accept()``)."""
    if t.role == ThreadRole.MANAGER_ACCEPTER:
        return True
    index = find(t.frames, "multiprocessing/managers.py", "serve_forever")
    if index is None:
        return False
    inner = t.frames[:index]
    return any(matches(f, "multiprocessing/connection.py", "accept") for f in inner) or (not inner and "accept(" in (t.frames[index].code or ""))


def waits_for_shutdown(t: Thread) -> bool:
    """A Manager's main thread waiting in ``serve_forever`` for shutdown (3.x): it runs nothing
    else (its requests run in server threads of their own, its connections come through the
    accepter), so it ends no wait inside the Manager."""
    return (
        t.wait is not None
        and t.wait.kind is WaitKind.IDLE
        and find(t.frames, "multiprocessing/managers.py", "serve_forever") is not None
        and not accepts(t)
    )


def _could_be_clients(snapshot: Snapshot, manager: Process) -> set[int]:
    """The processes that could hold a proxy of ``manager``: the one that started it and that
    one's other descendants (a proxy is inherited, or sent through what they share); the
    Manager's own children and the processes above its parent are left out."""
    below: dict[int, list[int]] = {}
    for q in snapshot.processes:
        below.setdefault(q.ppid, []).append(q.pid)
    out, todo = {manager.ppid}, [manager.ppid]
    while todo:
        for child in below.get(todo.pop(), []):
            if child != manager.pid and child not in out:
                out.add(child)
                todo.append(child)
    return out


def accepter_edges(snapshot: Snapshot) -> list[Edge]:
    """A Manager's accepter thread waits for a new connection, and so for a request that could
    end a wait inside the Manager (a server thread in an Event's ``wait()`` or a Queue's
    ``get()`` of an object it serves, for a client): only a client can open one, and any
    process that could hold a proxy could be one (the one that started the Manager and its
    other descendants: which of them hold proxies is not known without their locals). So it
    waits on every thread of those processes: when each of them waits,
    in turn, on the Manager, nobody can send the request that would end it. A guess: a process
    outside the tree with the address and the authkey could connect."""
    out = []
    for p in snapshot.processes:
        if p.role != ProcessRole.MANAGER or p.status == ProcessStatus.ZOMBIE:
            continue
        for t in p.threads:
            if not accepts(t) or not live(t):
                continue
            me = (p.pid, t.tid)
            clients = _could_be_clients(snapshot, p)
            others = user_threads(q for q in snapshot.processes if q.pid in clients and q.status != ProcessStatus.ZOMBIE and q.error is None)
            if not others:
                continue
            names = labels(snapshot, others)
            text = (
                f"{label(snapshot, me)} waits for a new connection to the Manager (pid {p.pid}): only a client can open one and "
                f"send the request that ends a wait inside the Manager, and the tree's other processes have {names}"
            )
            out.append(Edge(me, others, "accept", text, Certainty.GUESS))
    return out
