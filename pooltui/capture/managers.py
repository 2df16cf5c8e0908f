"""What a multiprocessing Manager's server threads say about a Manager Lock.

A ``Manager().Lock()`` is a plain ``threading.Lock`` inside the Manager's server process;
clients reach it through an ``AcquirerProxy``. The Manager serves each client connection
in its own thread, named after the client (``accept_connection`` sets the thread's name
to the client's process name, ``|thread`` appended for a non-main thread), in
``Server.serve_client``, whose locals keep the connection's last request after it
returned: ``request`` = (object id, method, args, kwds), ``res`` = its result;
``methodname`` is reset to None while the thread waits for the next request.

So, with py-spy ``--locals`` of the Manager process:
- a server thread blocked in ``serve_client`` on the lock's futex runs a client's
  ``acquire()`` right now: that client waits on the lock;
- an idle server thread whose last request was ``acquire`` (or ``__enter__``) of that
  object, returning True, belongs to the client that holds it (a later request on the
  same connection, e.g. to a dict proxy, hides it: then the holder is not known);
- the client process is the owner of the other end of the connection's socket
  (``Connection._recv``'s ``handle`` fd -> sock_diag peer -> ``/proc/PID/fd``; 3.x only,
  2.7's Connection is C code with no frame).
Everything here is a fact read from the Manager; ``analysis.managers`` concludes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Optional

from pooltui.capture import sockets
from pooltui.model import Frame, Lock, ManagerClient, ManagerObject, Process
from pooltui.model.record import replace

_REQUEST = re.compile(r'^\(\s*"([0-9a-fA-Fx]+)",\s*"(\w+)"')
_TYPEIDS = {"_thread.lock": "Lock", "thread.lock": "Lock", "_thread.RLock": "RLock", "_RLock": "RLock"}


def _serve_client(frames: Sequence[Frame]) -> Optional[int]:
    for i, f in enumerate(frames):
        if not f.native and f.file.endswith("multiprocessing/managers.py") and f.function.rpartition(".")[2] == "serve_client":
            return i
    return None


def serving(frames: Sequence[Frame]) -> bool:
    """A Manager server thread running a client's request in C (``serve_client`` innermost)."""
    py = [f for f in frames if not f.native]
    return bool(py) and _serve_client(py) == 0


def _text(frame: Frame, name: str) -> str:
    local = frame.local(name)
    return local.repr if local is not None else ""


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else ""


def _handle(frames: Sequence[Frame], index: int, handle_of: Optional[Callable[[int], Optional[int]]]) -> Optional[int]:
    """The fd of the thread's connection: ``Connection._recv``'s ``handle`` local (an idle
    thread), else the ``conn`` object's ``_handle`` read from memory (3.x)."""
    for f in frames[:index]:
        if f.file.endswith("multiprocessing/connection.py"):
            text = _text(f, "handle")
            if text.isdigit():
                return int(text)
    conn = frames[index].local("conn")
    if handle_of is not None and conn is not None and conn.addr:
        return handle_of(conn.addr)
    return None


def manager_object(
    proc: Process,
    frames: dict[int, tuple[Frame, ...]],
    lock: Lock,
    tree: Sequence[int] = (),
    handle_of: Optional[Callable[[int], Optional[int]]] = None,
    peers: Optional[dict[int, int]] = None,
) -> Optional[ManagerObject]:
    """The Manager object behind ``lock`` (read in the Manager process ``proc``) when its
    waiters are server threads, with every client connection's last request on it."""
    waiting = {tid for pid, tid in lock.waiters if pid == proc.pid}
    ident = ""
    for tid in waiting:
        i = _serve_client(frames.get(tid, ()))
        if i is not None:
            ident = _unquote(_text(frames[tid][i], "ident"))
            break
    if not ident:
        return None
    names = {t.tid: t.name or f"thread {t.tid}" for t in proc.threads}
    clients = []
    handles: dict[int, int] = {}
    for tid, stack in frames.items():
        i = _serve_client(stack)
        if i is None:
            continue
        frame = stack[i]
        request = _REQUEST.match(_text(frame, "request"))
        mine = request is not None and request.group(1) == ident
        busy = tid in waiting
        clients.append(
            ManagerClient(
                name=names.get(tid, f"thread {tid}"),
                server_tid=tid,
                last_call=request.group(2) if mine and request else "",
                result=_text(frame, "res") if mine and not busy else "",
                waiting=busy,
            )
        )
        fd = _handle(stack, i, handle_of)
        if fd is not None:
            handles[tid] = fd
    clients = _with_pids(proc.pid, clients, handles, peers, tree)
    typeid = _TYPEIDS.get(lock.type_name, lock.type_name)
    return ManagerObject(ident=ident, typeid=typeid, clients=tuple(sorted(clients, key=lambda c: c.server_tid)))


def _with_pids(
    pid: int, clients: list[ManagerClient], handles: dict[int, int], peers: Optional[dict[int, int]], tree: Sequence[int]
) -> list[ManagerClient]:
    """Each client's process: the owner of the far end of its connection's socket."""
    if not handles or not tree:
        return clients
    peers = sockets.unix_peers() if peers is None else peers
    far = {}
    for tid, fd in handles.items():
        inode = sockets.socket_inode(pid, fd)
        if inode is not None and inode in peers:
            far[tid] = peers[inode]
    owners = sockets.socket_owners([p for p in tree if p != pid], set(far.values()))
    return [replace(c, pid=owners.get(far.get(c.server_tid, -1))) for c in clients]
