"""buffer_lock -- a thread blocked writing to a file: the C lock inside its io buffer is held by a thread that cannot finish.

Real-world incidents: (fork) an audit log is a BufferedWriter on a pipe to a log shipper;
the shipper stalls, a thread's write() blocks inside the buffer's lock, and a worker forked
meanwhile writes its first line: its copy of the buffer lock names a thread that does not
exist in the worker, which waits forever. The same happens with `print()` on sys.stdout.
(abba) a buffered file over a Python raw stream whose write() takes an application lock: one
thread flushes (buffer lock held) and waits on the application lock, another holds the
application lock and writes to the same file.

What pooltui should show (2.7 with io.open files, 3.8+):
* --via fork (default; --stream audit|stdout): in the worker, its main thread waits on AUDIT
  ("a BufferedWriter's lock on fd N") / sys.stdout, held by thread ident X, which does not exist
  in the worker: orphaned_lock (error), inherited across fork() from the parent's "audit-writer".
  The parent's "audit-writer" is blocked writing to the pipe (nobody reads it).
* --via abba: "flusher" (holds AUDIT's buffer lock, waits on APP_LOCK) and "app" (holds
  APP_LOCK, waits on AUDIT's buffer lock): deadlock_cycle (error) naming both.
* --healthy (the twin): threads write to one BufferedWriter on a pipe a live thread drains
  (contending for its lock all the time), pool workers forked before the writers started
  write to it too: no warning, no error.

Truth: stream (the global's name), fd, owner {name, ident, tid} (the thread holding the buffer
lock, registered by itself before its write), waiters [{pid, tid}], worker_pid (fork), app (abba).
"""
from __future__ import print_function

import io
import os
import sys
import threading

import _common

AUDIT = None
APP_LOCK = threading.Lock()
BIG = b"x" * (1 << 20)  # more than a pipe holds: the raw write blocks with the buffer lock held


class LockedRaw(io.RawIOBase):
    """A raw stream whose write() takes APP_LOCK (a socket wrapper, a rotating sink)."""

    def writable(self):
        return True

    def write(self, data):
        with APP_LOCK:
            return len(data)


def child_write(ready_w, stream):
    os.write(ready_w, ("%d\n" % _common.native_tid()).encode())
    if stream == "stdout":
        print("worker started")
        sys.stdout.flush()
    else:
        AUDIT.write(b"worker started\n")
        AUDIT.flush()


def main(demo, via, stream):
    global AUDIT
    state = {}
    pipe_r, pipe_w = os.pipe()
    if via == "abba":
        AUDIT = io.BufferedWriter(LockedRaw(), buffer_size=16)
    elif stream == "stdout":
        if sys.version_info < (3,):
            raise _common.StateNotReached("2.7's sys.stdout is a C FILE, not an io object")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(pipe_w, "w")), write_through=False)
        AUDIT = sys.stdout.buffer
    else:
        AUDIT = io.BufferedWriter(io.FileIO(pipe_w, "w"))
    holding = threading.Event()

    def writer():
        _common.register_thread(state)
        holding.set()
        AUDIT.write(BIG)  # blocks in write() on the full pipe, holding the buffer lock

    def flusher():
        _common.register_thread(state)
        with APP_LOCK:
            holding.set()
            state["app_go"].wait()
        AUDIT.write(BIG)  # never reached in the hang: see below

    truth = {"stream": "sys.stdout" if stream == "stdout" else "AUDIT", "via": via}
    if via == "fork":
        t = threading.Thread(target=writer, name="audit-writer")
        t.daemon = True
        t.start()
        holding.wait(_common.STATE_TIMEOUT)
        _common.wait_blocked(demo.pid, state["audit-writer"]["tid"], syscalls=("write",), what="audit-writer")
        ready_r, ready_w = os.pipe()
        # os.fork(), not multiprocessing: Process.start() flushes sys.stdout first, and would
        # itself wait on the buffer lock the writer holds (a hang of its own, in the parent)
        pid = os.fork()
        if pid == 0:
            try:
                child_write(ready_w, stream)
            finally:
                os._exit(0)
        tid = int(os.read(ready_r, 64).decode().split()[0])
        _common.wait_blocked(pid, tid, what="the worker's write")
        truth.update(fd=pipe_w, owner=state["audit-writer"], waiters=[{"pid": pid, "tid": tid}], worker_pid=pid)
        demo.ready(truth)
        os.waitpid(pid, 0)
        return

    # abba: "flusher" takes the buffer lock (its write goes to the raw stream, which waits on
    # APP_LOCK); "app" holds APP_LOCK and writes to AUDIT
    def app():
        _common.register_thread(state)
        with APP_LOCK:
            state["app_holds"].set()
            state["flusher_in"].wait()
            AUDIT.write(b"app line\n")  # waits on the buffer lock the flusher holds

    def flush_through():
        _common.register_thread(state)
        state["app_holds"].wait()
        state["flusher_in"].set()
        AUDIT.write(BIG)  # buffer lock held; LockedRaw.write waits on APP_LOCK

    state["app_holds"], state["flusher_in"] = threading.Event(), threading.Event()
    threads = [threading.Thread(target=app, name="app"), threading.Thread(target=flush_through, name="flusher")]
    for t in threads:
        t.daemon = True
        t.start()

    def verify():
        _common.wait_until(lambda: "app" in state and "flusher" in state, "both threads to start")
        _common.wait_blocked(demo.pid, state["flusher"]["tid"], _common.futex_address(APP_LOCK), what="flusher")
        _common.wait_blocked(demo.pid, state["app"]["tid"], what="app")
        truth.update(owner=state["flusher"], app=state["app"], waiters=[{"pid": demo.pid, "tid": state["app"]["tid"]}],
                     app_lock=_common.lock_facts(APP_LOCK, "APP_LOCK", "lock"))
        demo.ready(truth)

    demo.setup_thread(verify)
    for t in threads:
        t.join()


def worker_write(n):
    AUDIT.write(b"worker line\n")
    AUDIT.flush()
    return n


def healthy(demo):
    global AUDIT
    pipe_r, pipe_w = os.pipe()
    AUDIT = io.BufferedWriter(io.FileIO(pipe_w, "w"), buffer_size=64)

    def drain():
        while os.read(pipe_r, 65536):
            pass

    def write_lines(name):
        while True:
            AUDIT.write(("%s line\n" % name).encode() * 8)

    # the pool is forked before the writer threads start (forking while they write is the hang)
    ctx = _common.get_context("fork")
    pool = ctx.Pool(2)
    threads = [threading.Thread(target=drain, name="shipper")]
    threads += [threading.Thread(target=write_lines, args=("w%d" % i,), name="writer-%d" % i) for i in range(3)]
    for t in threads:
        t.daemon = True
        t.start()
    pool.map(worker_write, range(8))
    demo.ready({"worker_pids": [p.pid for p in pool._pool], "fd": pipe_w})
    threading.Event().wait()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--via", choices=("fork", "abba"), default="fork")
        parser.add_argument("--stream", choices=("audit", "stdout"), default="audit")
        parser.add_argument("--healthy", action="store_true", help="the twin: writers on a pipe a live thread drains")

    args = _common.parse_args("buffer_lock", __doc__, extra=extra)
    demo = _common.Demo("buffer_lock", args)
    if args.healthy:
        demo.run(healthy, demo)
    else:
        demo.run(main, demo, args.via, args.stream)
