"""pool_handler -- a Pool's results can never arrive: its result handler thread died.

Real-world incident: a task returns an object the parent cannot unpickle (here an exception
class whose __init__ takes two arguments but passes one to Exception.__init__: pickling keeps
only that one). The parent's result handler thread raises TypeError while unpickling it and
dies -- it catches only OSError/EOFError -- with a traceback on stderr nobody reads. Every
worker is alive and idle, nothing was lost by a worker, and `pool.map()` waits forever.

What pooltui should show (2.7, 3.8+):
* root: pool parent, MainThread waiting in Pool.map; a task handler and a worker handler, and
  no result handler thread.
* pool_hung (error) naming the dead result handler thread -- not a dead worker, not dmesg.
* --healthy (the twin): the same pool and tasks returning plain values, the parent mapping
  them in a loop: no warning, no error.

Truth: worker_pids, result_handler {ident} (recorded before it died), healthy.
"""
from __future__ import print_function

import sys
import threading

import _common


class RecordError(Exception):
    """Two arguments in, one to Exception: unpickling calls RecordError(message) -> TypeError."""

    def __init__(self, message, record):
        super(RecordError, self).__init__(message)
        self.record = record


def bad_result(n):
    return RecordError("record %d is malformed" % n, n)


def square(n):
    return n * n


def main(demo, workers, healthy):
    ctx = _common.get_context("fork")
    pool = ctx.Pool(workers)
    handler = pool._result_handler
    truth = {"worker_pids": [p.pid for p in pool._pool], "result_handler": {"ident": handler.ident}, "healthy": healthy}

    def verify():
        if not healthy:
            handler.join(_common.STATE_TIMEOUT)  # it dies on the first result
            if handler.is_alive():
                raise _common.StateNotReached("the result handler did not die")
            demo.wait_main_blocked()
        demo.ready(truth)

    demo.setup_thread(verify)
    if healthy:
        while True:
            pool.map(square, range(64))
    else:
        sys.stderr = open("/dev/null", "w")  # the handler's traceback: nobody reads it (as in production)
        pool.map(bad_result, range(workers))


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin: plain results mapped in a loop")

    args = _common.parse_args("pool_handler", __doc__, workers=2, extra=extra)
    demo = _common.Demo("pool_handler", args)
    demo.run(main, demo, args.workers, args.healthy)
