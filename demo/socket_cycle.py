"""socket_cycle -- a worker waits on a socket for its parent, which waits for the worker.

Real-world incident: a pool task asks its parent for a piece of configuration over a
connection the parent opened for it (a socketpair made before the pool, a localhost TCP
or a unix-domain connection) and blocks in recv(); the parent hands out the task and then
waits for its result before it would ever answer on that connection. Each side waits for
the other forever; the task shows "waits on I/O", the parent "waits for pool results".

`--via socketpair|tcp|unix` picks the connection; `--shape pool|process|thread`: the task runs
in a Pool worker and the parent's main thread waits in `apply_async().get()` (pool), or it
is a `multiprocessing.Process` the parent `join()`s (process), or the Pool's result is waited
for by a parent thread 'dispatcher' that holds the connection while the main thread waits
on an Event nobody sets (thread: the main thread could answer only once its own wait ends,
so the cycle is a guess). `--shape mutual`: a `multiprocessing.Process` and its parent each
wait in recv() on their own end of the connection (each waits for the other to speak first).

What pooltui should show:
* the worker's main thread: waits on I/O (recv) in ask_parent, blocked in recvfrom() on a
  socket whose other end is held by the parent.
* the parent's waiting thread: waits for pool results (or for pid N to exit).
* Diagnosis deadlock_cycle (error; warning "Probably" for --shape thread): parent thread ->
  worker -> parent thread, the pool (or join) edge and the socket edge ("is blocked in
  recvfrom() waiting to read socket:[...]; its other end is held by pid P").

Truth: via, shape, parent {pid, tid}, worker {pid, tid}.
"""
from __future__ import print_function

import os
import socket
import tempfile
import threading

import _common

CONN = None             # the worker's end (socketpair: inherited across fork)
CHANNEL = None


def ask_parent(address):
    """The task: connect (tcp/unix) or use the inherited end, then wait for the answer."""
    sock = CONN
    if address is not None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.connect(address)
    CHANNEL.send(event="asking", **_common.thread_info())
    config = sock.recv(4096)            # blocks: the parent answers only after the task ends
    return config


def serve(via):
    """Parent side: (the parent's end, the address a task connects to, the listener)."""
    global CONN
    if via == "socketpair":
        parent_end, CONN = socket.socketpair()
        return parent_end, None, None
    if via == "tcp":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
    else:
        path = os.path.join(tempfile.mkdtemp(prefix="pooltui-socket-"), "parent.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
    listener.listen(1)
    return None, listener.getsockname(), listener


def main(demo, via, shape):
    global CHANNEL
    CHANNEL = _common.Channel()
    ctx = _common.get_context("fork")
    parent_end, address, listener = serve(via)
    if listener is not None and via == "unix":
        demo.cleanup_paths.append(os.path.dirname(address))
    waiter = {}

    def verify():
        worker = CHANNEL.collect(1, event="asking")[0]
        _common.wait_blocked(worker["pid"], worker["tid"], syscalls=("recvfrom", "read", "recvmsg"), what="worker")
        _common.wait_until(lambda: "tid" in waiter, "the parent to wait")
        _common.wait_blocked(demo.pid, waiter["tid"], syscalls=("futex", "wait4", "recvfrom"), what="parent")
        demo.ready({"via": via, "shape": shape, "parent": {"pid": demo.pid, "tid": waiter["tid"]},
                    "worker": {"pid": worker["pid"], "tid": worker["tid"]}})

    demo.setup_thread(verify)
    if shape == "mutual":
        child = ctx.Process(target=ask_parent, args=(address,))
        child.start()
        conn = listener.accept()[0] if listener is not None else parent_end
        waiter.update(_common.thread_info())
        conn.recv(4096)                  # waits for the child to speak first, as it waits for us
        return
    if shape == "process":
        child = ctx.Process(target=ask_parent, args=(address,))
        child.start()
        conn = listener.accept()[0] if listener is not None else parent_end
        waiter.update(_common.thread_info())
        child.join()                     # waits for the child, which waits for us
        conn.sendall(b"config")
        return
    pool = ctx.Pool(2)
    result = pool.apply_async(ask_parent, (address,))
    conn = listener.accept()[0] if listener is not None else parent_end

    def dispatch():
        waiter.update(_common.thread_info())
        result.get()                     # waits for the task, which waits for us
        conn.sendall(b"config")

    if shape == "thread":
        dispatcher = threading.Thread(target=dispatch, name="dispatcher")
        dispatcher.daemon = True
        dispatcher.start()
        threading.Event().wait()         # the main thread waits for a shutdown nobody signals
    dispatch()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--via", default="socketpair", choices=("socketpair", "tcp", "unix"))
        parser.add_argument("--shape", default="pool", choices=("pool", "process", "thread", "mutual"))

    args = _common.parse_args("socket_cycle", __doc__, extra=extra)
    demo = _common.Demo("socket_cycle", args)
    demo.run(main, demo, args.via, args.shape)
