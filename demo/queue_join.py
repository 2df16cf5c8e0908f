"""queue_join -- a parent join()s a child that put more into a multiprocessing.Queue than its
pipe holds: the documented "joining processes that use queues" deadlock.

Real-world incident: a worker process puts its (large) result on a Queue and returns; the
parent calls `p.join()` before `q.get()`. The child cannot exit until its queue feeder thread
has written everything into the pipe, the pipe is full (64 KiB) and nobody reads it: the
parent waits for the child, the child for its feeder, the feeder for the parent.

What pooltui should show:
* root MainThread: waits for the child to exit (Process.join, wait4).
* child MainThread: at exit, joins its queue feeder thread (Queue._finalize_join).
* child QueueFeederThread: blocked in write() on the queue's pipe (not "idle").
* Diagnosis deadlock_cycle (error) through the join, the feeder join and the pipe, saying
  the parent is at the other end of the pipe.

--heartbeat: the parent also runs a "heartbeat" thread that logs every 0.2 s (a timed wait,
never touching the queue) and a threading.Timer due in an hour: neither can read the pipe,
so neither may turn the deadlock into a "probably".

Truth: parent_pid, child_pid, feeder_tid.
"""
from __future__ import print_function

import os
import threading
import time

import _common


def produce(queue, size):
    queue.put(b"x" * size)               # the feeder writes it after we return; nobody reads


def _feeder_writing(child):
    """The child's thread blocked in write() (the feeder), once its main thread joins it."""
    for name in os.listdir("/proc/%d/task" % child):
        tid = int(name)
        if tid == child:
            continue
        got = _common.read_syscall(child, tid)
        if got and got[0] == 1:           # write
            return tid
    return None


def heartbeat():
    beats = 0
    while True:
        time.sleep(0.2)              # a timed wait; it never touches the queue
        beats += 1


def main(demo, size, with_heartbeat):
    ctx = _common.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=produce, args=(queue, size), name="producer")
    child.start()
    if with_heartbeat:
        beat = threading.Thread(target=heartbeat, name="heartbeat")
        beat.daemon = True
        beat.start()
        timer = threading.Timer(3600, os._exit, (3,))
        timer.daemon = True
        timer.start()

    def verify():
        feeder = []
        _common.wait_until(lambda: feeder.append(_feeder_writing(child.pid)) or feeder[-1], "the child's feeder to block in write()")
        _common.wait_blocked(child.pid, child.pid, what="child main thread (joining its feeder)")
        demo.wait_main_blocked(syscalls=("wait4",))
        demo.ready({"parent_pid": demo.pid, "child_pid": child.pid, "feeder_tid": feeder[-1]})

    demo.setup_thread(verify)
    child.join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--size", type=int, default=1 << 20, help="bytes put on the queue (default 1 MiB)")
        parser.add_argument("--heartbeat", action="store_true", help="also a heartbeat thread and a Timer in the parent")

    args = _common.parse_args("queue_join", __doc__, extra=extra)
    demo = _common.Demo("queue_join", args)
    demo.run(main, demo, args.size, args.heartbeat)
