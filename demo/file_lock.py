"""file_lock -- processes wait in flock() / lockf() for a lock on a file that another process
of the tree holds.

Real-world incidents: two cron-style workers each lock one state file, then the other's, in
opposite orders (flock() has no deadlock detection: both wait forever); a process opens its
own lock file a second time and flock()s it again (flock() locks belong to the open file: it
waits for itself); a worker takes a record lock (lockf) and waits for an Event that the
worker wanting the same record would set once it gets it.

The scenario runs in a "job" process (a child of the demo), in a private temporary folder.

--shape crossed (default): two workers flock() two files in opposite orders.
--shape self: one worker flock()s its lock file through a second open file.
--shape record: worker A lockf()s a file and waits on a multiprocessing Event; worker B
  waits in lockf() for A's lock, and would set the Event once it has it.
--shape held: a worker waits in flock() for a file another worker holds while it sleeps (for
  an hour): no verdict, but the wait names the holder and what it does.
--healthy (crossed): the twin that must draw no verdict: both workers take the files in one
  order, each holding them for a moment, in a loop.

What pooltui should show:
* each waiter's wait: which lock on which file, held by which pid (the kernel's lock table);
* crossed, self: Diagnosis deadlock_cycle (error, fact) through the file locks;
* record: Diagnosis deadlock_cycle (error) through the record lock and the Event;
* held, --healthy: no warning, no error.

Truth: shape, healthy, job_pid, waiter_pids, holder_pids, folder.
"""
from __future__ import print_function

import fcntl
import os
import shutil
import signal
import tempfile
import time

import _common


def _lock(folder, name, record=False):
    f = open(os.path.join(folder, name), "a+")
    (fcntl.lockf if record else fcntl.flock)(f, fcntl.LOCK_EX)
    return f


def crossed(folder, first, second, barrier_r, healthy, held_w):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if healthy:
        while True:  # one order for both: each holds both for a moment, then lets go
            a = _lock(folder, "one")
            b = _lock(folder, "two")
            time.sleep(0.05)
            b.close()
            a.close()
            time.sleep(0.1)
    held = _lock(folder, first)
    os.write(held_w, b"h")  # the job opens the barrier once both say so
    os.read(barrier_r, 1)  # both hold their first file now
    _lock(folder, second)
    return held


def self_lock(folder):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    held = _lock(folder, "state")
    _lock(folder, "state")  # a second open file of the same: it waits for the first
    return held


def record_a(folder, event, took):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    held = _lock(folder, "records", record=True)
    took.set()
    event.wait()  # set by B once B has the record -- which it never gets
    return held


def record_b(folder, event, took):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    took.wait()
    held = _lock(folder, "records", record=True)
    event.set()
    return held


def holder(folder, took):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    held = _lock(folder, "state")
    took.set()
    time.sleep(3600)
    return held


def waiter(folder, took):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    took.wait()
    return _lock(folder, "state")


def job(shape, healthy, folder, report_w):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ctx = _common.get_context("fork")
    if shape == "crossed":
        r, w = os.pipe()
        held_r, held_w = os.pipe()
        procs = [ctx.Process(target=crossed, args=(folder, "one", "two", r, healthy, held_w), name="first"),
                 ctx.Process(target=crossed, args=(folder, "two", "one", r, healthy, held_w), name="second")]
        for p in procs:
            p.start()
        os.close(held_w)  # the workers' copies only: both gone = EOF
        waiters, holders = [p.pid for p in procs], [p.pid for p in procs]
        if not healthy:
            # each holds its first file before either asks for its second (under load a worker
            # that took both before the other started would finish: no cycle)
            _common.read_until(held_r, lambda got: len(got) >= 2, "the workers exited before they held their first files")
            os.write(w, b"xx")
    elif shape == "self":
        procs = [ctx.Process(target=self_lock, args=(folder,), name="reopener")]
        procs[0].start()
        waiters = holders = [procs[0].pid]
    else:
        took = ctx.Event()
        if shape == "record":
            event = ctx.Event()
            procs = [ctx.Process(target=record_a, args=(folder, event, took), name="a"),
                     ctx.Process(target=record_b, args=(folder, event, took), name="b")]
        else:
            procs = [ctx.Process(target=holder, args=(folder, took), name="holder"),
                     ctx.Process(target=waiter, args=(folder, took), name="waiter")]
        for p in procs:
            p.start()
        waiters, holders = [procs[1].pid], [procs[0].pid]
    os.write(report_w, ("%s;%s\n" % (" ".join(map(str, waiters)), " ".join(map(str, holders)))).encode())
    for p in procs:
        p.join()


def main(demo, shape, healthy):
    ctx = _common.get_context("fork")
    folder = tempfile.mkdtemp(prefix="pooltui-file-lock-")
    r, w = os.pipe()
    proc = ctx.Process(target=job, args=(shape, healthy, folder, w), name="job")
    proc.start()

    def verify():
        line = _common.read_line(r, "the job exited before it started its workers")
        line = line.decode() if isinstance(line, bytes) else line
        waiters, holders = ([int(p) for p in part.split()] for part in line.split(";"))
        for pid in waiters:
            if healthy:
                _common.wait_until(lambda: _common.read_syscall(pid, pid) is not None, "a worker to run")
            else:
                _common.wait_blocked(pid, pid, syscalls=("flock", "fcntl"), what="a worker, waiting for a file lock")
        demo.ready({"shape": shape, "healthy": healthy, "job_pid": proc.pid, "waiter_pids": waiters,
                    "holder_pids": holders, "folder": folder})

    demo.setup_thread(verify)
    try:
        proc.join()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", choices=("crossed", "self", "record", "held"), default="crossed")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict (crossed)")

    args = _common.parse_args("file_lock", __doc__, extra=extra)
    demo = _common.Demo("file_lock", args)
    demo.run(main, demo, args.shape, args.healthy)
