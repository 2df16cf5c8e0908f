"""signal_wait -- a pool task waits for a signal nobody sends, while map() waits for the task.

Real-world incident: a task calls `signal.pause()` (or `signal.sigwait([SIGUSR1])`) to wait
for a "go" signal a supervisor was meant to send -- a supervisor that was never started, or
that signals the pool's parent instead. No lock, no queue, no pipe: only a signal can end the
wait, and nothing in the pool will send one. `py-spy dump` shows the task's line; gdb shows
pause() or rt_sigtimedwait().

--shape pause (default): signal.pause() (2.7 too);
--shape sigwait (3.x): signal.sigwait([SIGUSR1]) with SIGUSR1 blocked;
--shape timed (3.x): signal.sigtimedwait([SIGUSR1], 3600): a wait with a timeout.

What pooltui should show:
* the worker running task 0: "waits for a signal, no timeout (in pause()/rt_sigtimedwait() ...)"
  -- never "idle" or "blocked in a C call"; with --shape timed: "waits for a signal, with a
  timeout";
* no warning or error: anyone allowed to may still send it (kill), as a socket to another
  host may still answer: said in the wait, not a verdict.

Truth: shape, waiter_pid, parent_pid.
"""
from __future__ import print_function

import os
import signal

import _common

CALLS = {"pause": "pause", "sigwait": "rt_sigtimedwait", "timed": "rt_sigtimedwait"}
STARTED = []  # the queue task 0 says its pid on (made before the pool forks: inherited)


def task(args):
    i, shape = args
    if i != 0:
        return i
    STARTED[0].put(os.getpid())
    if shape == "pause":
        signal.signal(signal.SIGUSR1, lambda *a: None)
        signal.pause()
    else:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        if shape == "timed":
            signal.sigtimedwait([signal.SIGUSR1], 3600)
        else:
            signal.sigwait([signal.SIGUSR1])
    return i


def main(demo, shape):
    ctx = _common.get_context("fork")
    STARTED.append(ctx.Queue())
    pool = ctx.Pool(2)
    result = pool.map_async(task, [(i, shape) for i in range(4)], chunksize=1)

    def verify():
        waiter = STARTED[0].get(timeout=_common.STATE_TIMEOUT)
        _common.wait_blocked(waiter, waiter, syscalls=(CALLS[shape],), what="the task, waiting for a signal")
        demo.wait_main_blocked()
        demo.ready({"shape": shape, "waiter_pid": waiter, "parent_pid": demo.pid})

    demo.setup_thread(verify)
    result.get()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", choices=sorted(CALLS), default="pause", help="how the task waits for a signal")

    args = _common.parse_args("signal_wait", __doc__, extra=extra)
    if _common.PY2 and args.shape != "pause":
        import sys

        sys.stderr.write("signal_wait: --shape %s needs Python 3 (2.7 has only signal.pause)\n" % args.shape)
        sys.exit(2)
    demo = _common.Demo("signal_wait", args)
    demo.run(main, demo, args.shape)
