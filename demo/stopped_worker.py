"""stopped_worker -- a pool worker stopped (SIGSTOP) or held by a debugger mid-task.

Real-world incident: someone ran `kill -STOP` on a worker to look at it (or attached gdb and
went to lunch). The worker keeps its task; the parent's map() waits for it forever; ps says
"T" (or "t"), and nothing in the Python stacks says so.

`--how stop` (default): SIGSTOP. `--how trace`: a tracer process (forked from the root)
PTRACE_ATTACHes the worker and holds it stopped, as a debugger would.

What pooltui should show:
* the worker: state stopped (or traced, by the tracer's pid), in its task.
* Diagnosis stopped_holds_pool (error): the worker, how it is stopped (TracerPid), the
  parent waiting for it.

Truth: parent_pid, stopped_pid, tracer_pid (trace only), how.
"""
from __future__ import print_function

import ctypes
import os
import signal
import time

import _common

PTRACE_ATTACH = 16
CHANNEL = None


def init_worker(channel):
    global CHANNEL
    CHANNEL = channel


def work(task):
    CHANNEL.send(event="in-task", task=task)
    while True:
        time.sleep(0.2)


def _state(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return data[data.rfind(")") + 2:].split()[0]


def _tracer(target):
    """A child that ptrace-attaches ``target`` and holds it (a debugger at a breakpoint)."""
    pid = os.fork()
    if pid:
        return pid
    try:
        # forked from the setup thread, whose exit would fire the death signal set after fork:
        # live as long as the root process instead (checked below)
        _common._libc.prctl(_common._PR_SET_PDEATHSIG, 0, 0, 0, 0)
        root = os.getppid()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        if libc.ptrace(PTRACE_ATTACH, target, None, None) != 0:
            os._exit(4)
        while os.getppid() == root:
            time.sleep(0.5)
    finally:
        os._exit(0)


def main(demo, workers, how):
    ctx = _common.get_context("fork")
    channel = _common.Channel()
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(channel,))
    result = pool.map_async(work, range(workers), chunksize=1)

    def verify():
        busy = sorted(m["pid"] for m in channel.collect(workers, event="in-task"))
        victim = busy[0]
        truth = {"parent_pid": demo.pid, "stopped_pid": victim, "how": how, "worker_pids": _common.pool_pids(pool)}
        if how == "trace":
            truth["tracer_pid"] = _tracer(victim)
        else:
            os.kill(victim, signal.SIGSTOP)
        _common.wait_until(lambda: _state(victim) in ("T", "t"), "the worker to stop")
        demo.wait_main_blocked()
        demo.ready(truth)

    demo.setup_thread(verify)
    result.get()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--how", default="stop", choices=("stop", "trace"))

    args = _common.parse_args("stopped_worker", __doc__, workers=2, extra=extra)
    demo = _common.Demo("stopped_worker", args)
    demo.run(main, demo, args.workers, args.how)
