"""c_lock_fork -- a forked child blocks for good on a C lock inside a stdlib object: a thread of
the parent was inside hashlib's update() -- which holds the hash object's own lock while it
hashes a large buffer, the GIL released -- when the main thread forked.

Real-world incident: a service keeps a running checksum (one hashlib object) that a thread
feeds with large chunks, and forks workers from its main thread. A worker that touches the
checksum hangs in its first update(): the object's lock was copied taken, and the thread
that held it does not exist in the child. No Python lock is involved, so no lock rule
applies; py-spy shows the worker "in a C call". (3.x: 2.7's hashlib keeps the GIL instead.)

--healthy: the twin that must draw no verdict: the child makes its own hash object.

The child is forked until one is caught with the lock taken (the hasher holds it nearly all
the time; a child that got it free finishes and another is forked).

What pooltui should show:
* the child's only thread asleep in futex() -- process-private, no timeout -- at `update()`;
* Diagnosis no_waker (error, fact): nobody can end this wait, the child has no other thread;
* --healthy: no warning, no error.

Truth: child_pid, healthy.
"""

from __future__ import print_function

import hashlib
import threading
import time

import _common

CHECKSUM = hashlib.sha256()
CHUNK = b"x" * (16 << 20)  # large enough that update() releases the GIL and holds the object's lock


def hasher():
    while True:
        CHECKSUM.update(CHUNK)


def child(healthy):
    if healthy:
        own = hashlib.sha256()  # made after fork: its lock is free
        while True:
            own.update(b"y" * 4096)
            time.sleep(0.05)
    CHECKSUM.update(b"y" * 4096)  # blocks for good if the lock was taken when we forked


def _in_futex(pid):
    got = _common.read_syscall(pid, pid)
    return got is not None and got[0] == _common._SYSCALLS["futex"]


def main(demo, healthy):
    ctx = _common.get_context("fork")
    t = threading.Thread(target=hasher, name="hasher")
    t.daemon = True
    t.start()
    for _ in range(50):
        proc = ctx.Process(target=child, args=(healthy,), name="worker")
        proc.start()
        if healthy:
            break
        _common.wait_until(lambda: not proc.is_alive() or _in_futex(proc.pid), "the child to block or finish")
        if proc.is_alive():
            break
        proc.join()  # it got the lock free: again
    else:
        raise _common.StateNotReached("no child was forked while the hasher held the checksum's lock")

    def verify():
        if not healthy:
            _common.wait_settled(proc.pid, proc.pid, syscalls=("futex",), what="the child, in update()")
        demo.ready({"child_pid": proc.pid, "healthy": healthy})

    demo.setup_thread(verify)
    proc.join()


if __name__ == "__main__":

    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("c_lock_fork", __doc__, extra=extra)
    if _common.PY2:
        import sys

        sys.stderr.write("c_lock_fork: needs Python 3 (2.7's hashlib holds the GIL, not a lock of its own)\n")
        sys.exit(2)
    demo = _common.Demo("c_lock_fork", args)
    demo.run(main, demo, args.healthy)
