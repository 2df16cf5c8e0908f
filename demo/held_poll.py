"""held_poll -- a thread holds a lock while it polls (select/poll/epoll, no timeout) for data
that only a thread needing that lock would send.

Real-world incident: a connection object guarded by one lock; the reader takes the lock, then
waits in select() (or Connection.poll(None)) for the next message -- and the peer only sends
after taking the same lock for its own bookkeeping. Nothing moves, no Python lock is held by
a thread "in" anything but a select(), and py-spy shows one thread in select(), one in
`with lock:`.

--where thread (default): one child process, threads 'reader' (holds threading.Lock STATE,
  polls a pipe only this process writes) and 'writer' (takes STATE, then writes); its main
  thread sleeps.
--where process: a child 'poller' holds a multiprocessing.Lock and polls its end of a pipe;
  a child 'sender' takes that lock, then sends (the root keeps no copy of the pipe).
--via select (default) | poll | epoll | conn: select.select, select.poll, select.epoll, or
  Connection.poll(None), each without a timeout.
--healthy: the twin that must draw no verdict: the writer (sender) writes without taking the
  lock, so the poll ends and the lock is released every round.

What pooltui should show:
* the writer (sender) waiting on the lock, held by the reader (poller) -- in a with block;
* the reader blocked in select()/poll()/epoll_wait() with no timeout on its end, whose other
  end only the writer (sender) could write;
* Diagnosis deadlock_cycle (error, inferred) of the two, its fix about holding a lock across
  a wait on a pipe or socket; --healthy: no warning, no error.

Truth: where, via, healthy, poller_pid, poller_tid, writer_pid, writer_tid.
"""
from __future__ import print_function

import os
import select
import signal
import threading
import time

import _common

POLL_SYSCALLS = _common.POLL_SYSCALLS
_WRITE_FD = []  # the write end of the last os.pipe() made by _pipe


def _wait_readable(via, fd, conn=None):
    """Block until ``fd`` (or ``conn``) is readable, with no timeout."""
    if via == "conn":
        conn.poll(None)
    elif via == "poll":
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll()
    elif via == "epoll":
        e = select.epoll()
        try:
            e.register(fd, select.EPOLLIN)
            e.poll()
        finally:
            e.close()
    else:
        select.select([fd], [], [])


def _pipe(via):
    """(fd to poll, read one message, write one message, conn or None)."""
    if via == "conn":
        import multiprocessing
        receiver, sender = multiprocessing.Pipe(duplex=False)
        return receiver.fileno(), receiver.recv_bytes, sender.send_bytes, receiver
    r, w = os.pipe()
    _WRITE_FD[:] = [w]
    return r, (lambda: os.read(r, 64)), (lambda data: os.write(w, data)), None


def _poll_holding(lock, via, fd, read, conn):
    """Forever: take ``lock``, wait with no timeout until ``fd`` (``conn``) is readable, read."""
    while True:
        with lock:
            _wait_readable(via, fd, conn)
            read()


def _send_forever(healthy, lock, write):
    """Forever: send a message every 50 ms, each after taking ``lock`` (the twin: without it)."""
    while True:
        if healthy:
            write(b"m")
        else:
            with lock:  # blocks: the poller holds it while it polls
                write(b"m")
        time.sleep(0.05)


def in_threads(via, healthy, report_w):
    """The 'reader' and 'writer' threads of one process around threading.Lock STATE."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    fd, read, write, conn = _pipe(via)
    state = threading.Lock()
    tids = {}

    def reader():
        tids["reader"] = _common.native_tid()
        _poll_holding(state, via, fd, read, conn)

    def writer():
        tids["writer"] = _common.native_tid()
        _send_forever(healthy, state, write)

    first = threading.Thread(target=reader, name="reader")
    first.daemon = True
    first.start()
    while "reader" not in tids:
        time.sleep(0.01)
    _common.wait_blocked(os.getpid(), tids["reader"], syscalls=POLL_SYSCALLS, what="the reader polling")
    second = threading.Thread(target=writer, name="writer")
    second.daemon = True
    second.start()
    while len(tids) < 2:
        time.sleep(0.01)
    os.write(report_w, ("%d %d %d\n" % (os.getpid(), tids["reader"], tids["writer"])).encode())
    while True:
        time.sleep(3600)


def poller(via, healthy, lock, fd, read, conn, report_w):
    """The child that holds ``lock`` while it polls its end of the pipe."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.write(report_w, ("%d\n" % os.getpid()).encode())
    _poll_holding(lock, via, fd, read, conn)


def main(demo, where, via, healthy):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    if where == "thread":
        proc = ctx.Process(target=in_threads, args=(via, healthy, w), name="holder")
        proc.start()

        def verify():
            line = _common.read_line(r, "the holder exited before its threads started")
            pid, reader, writer = [int(x) for x in line.split()]
            if not healthy:
                _common.wait_blocked(pid, reader, syscalls=POLL_SYSCALLS, what="the reader polling")
                _common.wait_blocked(pid, writer, syscalls=("futex",), what="the writer, on the lock")
            demo.ready({"where": where, "via": via, "healthy": healthy, "poller_pid": pid, "poller_tid": reader,
                        "writer_pid": pid, "writer_tid": writer})

        demo.setup_thread(verify)
        proc.join()
        return
    lock = ctx.Lock()
    fd, read, write, conn = _pipe(via)
    child = ctx.Process(target=poller, args=(via, healthy, lock, fd, read, conn, w), name="poller")
    child.start()
    pid = int(_common.read_line(r, "the poller exited before it polled"))
    _common.wait_blocked(pid, pid, syscalls=POLL_SYSCALLS, what="the poller polling")
    # the sender is a child too, and the root lets go of its copies of the pipe: the other end's
    # holders are the two children alone (not the root, whose control thread writes the ready line)
    sender = ctx.Process(target=send, args=(healthy, lock, write, w), name="sender")
    sender.start()
    spid = int(_common.read_line(r, "the sender exited before it sent"))
    for end in (conn, getattr(write, "__self__", None)):
        if end is not None:
            end.close()
    if conn is None:
        os.close(fd)
        os.close(_WRITE_FD[0])

    def verify():
        if not healthy:
            _common.wait_blocked(pid, pid, syscalls=POLL_SYSCALLS, what="the poller polling")
            _common.wait_blocked(spid, spid, syscalls=("futex",), what="the sender, on the lock")
        demo.ready({"where": where, "via": via, "healthy": healthy, "poller_pid": pid, "poller_tid": pid,
                    "writer_pid": spid, "writer_tid": spid})

    demo.setup_thread(verify)
    child.join()


def send(healthy, lock, write, report_w):
    """The child that sends, after taking the lock the poller holds (the twin: without it)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.write(report_w, ("%d\n" % os.getpid()).encode())
    _send_forever(healthy, lock, write)

if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--where", choices=("thread", "process"), default="thread")
        parser.add_argument("--via", choices=("select", "poll", "epoll", "conn"), default="select")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("held_poll", __doc__, extra=extra)
    demo = _common.Demo("held_poll", args)
    demo.run(main, demo, args.where, args.via, args.healthy)
