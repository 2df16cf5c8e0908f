"""own_end -- a process waits to read a pipe (or a socket) whose other end only it holds: it
never closed its own copy of the write end after fork(), so EOF never comes, and the writer is
gone.

Real-world incident: a job forks a helper that writes its result into a pipe and exits; the
job reads until EOF -- but never closed its copy of the write end after fork(), so its read
never sees EOF and never returns. The same with a socketpair() whose other half the reader
keeps, or a multiprocessing.Pipe() whose sending Connection it never closed.

--shape pipe (default) | socketpair | mp_pipe: the end the reader waits on.
--shape crossed: the reader's two threads 'ping' and 'pong' each read first from a pipe only
  the other one writes (after its own read); its main thread sleeps. Both ends are
  its own: a deadlock_cycle (error, inferred) of 'ping' and 'pong'. --healthy: 'pong' writes
  first, and the two keep passing a token back and forth.
--shape shared_file: the reader's threads 'first' and 'second' read lines from one buffered
  file object (io.open of the pipe's read end): 'first' is blocked in read() holding the
  object's own lock, 'second' waits on that lock in readline() -- no Python lock in sight;
  its main thread sleeps. A deadlock_cycle of the two whose fix speaks of the shared file.
  --healthy: a writer thread writes a line every 0.2 s.
--healthy: the twin that must draw no verdict: the reader has a writer thread of its own,
  asleep between two writes.

The reader is a child of the demo (forked: one thread); its helper, a grandchild, writes one
result and exits (reaped).

What pooltui should show:
* the reader's only thread blocked in read()/recv() on the end, its wait saying that only
  this process holds the other end;
* Diagnosis no_waker (error, fact): nobody can end this wait -- only the reader itself holds
  the write end (no other process on this box does), and it has no other thread;
* --healthy: no warning, no error.

Truth: shape, healthy, reader_pid.
"""
from __future__ import print_function

import os
import signal
import socket
import threading
import time

import _common


def _ends(shape):
    """(read once, write) of a fresh pipe, socketpair or multiprocessing Pipe."""
    if shape == "socketpair":
        a, b = socket.socketpair()
        return (lambda: a.recv(4096)), b.sendall
    if shape == "mp_pipe":
        import multiprocessing
        receiver, sender = multiprocessing.Pipe(duplex=False)
        return receiver.recv_bytes, sender.send_bytes
    r, w = os.pipe()
    return (lambda: os.read(r, 4096)), (lambda data: os.write(w, data))


def _writer(write):
    while True:
        time.sleep(0.2)
        write(b"tick\n")


def crossed(healthy, report_w):
    """Two threads, each reading a pipe only the other writes before it writes its own."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    tids = {}

    def side(name, read_fd, write_fd, first):
        tids[name] = _common.native_tid()
        if first:
            os.write(write_fd, b"t")
        while True:
            os.read(read_fd, 1)  # blocks: the other side writes only after its own read
            time.sleep(0.05)
            os.write(write_fd, b"t")

    ping = threading.Thread(target=side, args=("ping", r1, w2, False), name="ping")
    pong = threading.Thread(target=side, args=("pong", r2, w1, healthy), name="pong")
    for t in (ping, pong):
        t.daemon = True
        t.start()
    while len(tids) < 2:
        time.sleep(0.01)
    os.write(report_w, ("%d %d %d\n" % (os.getpid(), tids["ping"], tids["pong"])).encode())
    while True:
        time.sleep(3600)


def shared_file(healthy, report_w):
    """Two threads reading lines from one buffered file object over a pipe only this process
    could write: 'first' blocks in read() holding the object's own lock, 'second' waits on it."""
    import io
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    r, w = os.pipe()
    lines = io.open(r, "rb")
    tids = {}

    def side(name):
        tids[name] = _common.native_tid()
        while True:
            lines.readline()

    first = threading.Thread(target=side, args=("first",), name="first")
    first.daemon = True
    first.start()
    while "first" not in tids:
        time.sleep(0.01)
    _common.wait_blocked(os.getpid(), tids["first"], syscalls=("read",), what="first reading")  # it holds the lock now
    second = threading.Thread(target=side, args=("second",), name="second")
    second.daemon = True
    second.start()
    if healthy:
        t = threading.Thread(target=_writer, args=(lambda data: os.write(w, data),), name="writer")
        t.daemon = True
        t.start()
    while len(tids) < 2:
        time.sleep(0.01)
    os.write(report_w, ("%d %d %d\n" % (os.getpid(), tids["first"], tids["second"])).encode())
    while True:
        time.sleep(3600)


def reader(shape, healthy, report_w):
    if shape == "crossed":
        return crossed(healthy, report_w)
    if shape == "shared_file":
        return shared_file(healthy, report_w)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    read, write = _ends(shape)
    helper = os.fork()
    if helper == 0:
        write(b"result\n")  # the helper's one result; its exit closes only its own copies
        os._exit(0)
    os.waitpid(helper, 0)
    got = [read()]
    if healthy:
        t = threading.Thread(target=_writer, args=(write,), name="writer")
        t.daemon = True
        t.start()
    os.write(report_w, ("%d\n" % os.getpid()).encode())
    while True:  # until EOF: never, while this process holds the write end itself
        chunk = read()
        if not chunk:
            return got
        got.append(chunk)


def main(demo, shape, healthy):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    proc = ctx.Process(target=reader, args=(shape, healthy, w), name="reader")
    proc.start()

    def verify():
        line = _common.read_line(r, "the reader exited before it read its result")
        pid = int(line.split()[0])
        if shape == "shared_file":
            first, second = [int(x) for x in line.split()[1:]]
            if not healthy:
                _common.wait_blocked(pid, first, syscalls=("read",), what="first reading")
                _common.wait_blocked(pid, second, syscalls=("futex",), what="second, on the file's lock")
            demo.ready({"shape": shape, "healthy": healthy, "reader_pid": pid, "first": first, "second": second})
            return
        if shape == "crossed":
            ping, pong = [int(x) for x in line.split()[1:]]
            if not healthy:
                _common.wait_blocked(pid, ping, syscalls=("read",), what="ping reading")
                _common.wait_blocked(pid, pong, syscalls=("read",), what="pong reading")
            demo.ready({"shape": shape, "healthy": healthy, "reader_pid": pid, "ping": ping, "pong": pong})
            return
        if healthy:
            _common.wait_until(lambda: _common.read_syscall(pid, pid) is not None, "the reader to read")
        else:
            _common.wait_blocked(pid, pid, syscalls=("read", "recvfrom", "recvmsg"), what="the reader, waiting for EOF")
        demo.ready({"shape": shape, "healthy": healthy, "reader_pid": pid})

    demo.setup_thread(verify)
    proc.join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", choices=("pipe", "socketpair", "mp_pipe", "crossed", "shared_file"), default="pipe")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("own_end", __doc__, extra=extra)
    demo = _common.Demo("own_end", args)
    demo.run(main, demo, args.shape, args.healthy)
