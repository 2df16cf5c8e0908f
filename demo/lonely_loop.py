"""lonely_loop -- an asyncio process awaits a Future nobody will ever set: its loop has no
timer, no connection and no other thread, so nothing can wake it.

Real-world incident: a worker process runs `asyncio.run(main())`; main awaits a Future (or an
asyncio.Event) that a callback registered with a library was to complete -- but the library
dropped the callback (or the task that would have set it was garbage-collected). The loop
sleeps in epoll_wait() with no timeout, watching only its own self-pipe: no other process
holds the other end, no thread is left to call_soon_threadsafe(). It is a hang with no lock
in it and nothing "stuck" in py-spy's view but `select()`.

--healthy: the twin that must draw no verdict: the child's loop serves a listening socket
  (a server with no client yet), or with --signal awaits a stop Event set by a SIGTERM handler
  (a signal can end that wait: said as info, never an error).

The loop runs in a child of the demo (forked: one thread). Python 3.8+.

What pooltui should show:
* the child's only thread in epoll_wait() with no timeout, its loop watching its self-pipe;
* Diagnosis no_waker (error, fact): nobody can end this wait;
* --healthy: no warning, no error.

Truth: child_pid, healthy, signal.
"""
from __future__ import print_function

import os
import signal
import sys

import _common


def child(healthy, with_signal, report_w):
    import asyncio

    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    async def main():
        loop = asyncio.get_running_loop()
        if with_signal:
            stop = asyncio.Event()
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            os.write(report_w, ("%d\n" % os.getpid()).encode())
            await stop.wait()
        elif healthy:
            server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
            os.write(report_w, ("%d\n" % os.getpid()).encode())
            async with server:
                await server.serve_forever()
        else:
            never = loop.create_future()  # whoever was to set it is gone
            os.write(report_w, ("%d\n" % os.getpid()).encode())
            await never

    asyncio.run(main())


def main(demo, healthy, with_signal):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    proc = ctx.Process(target=child, args=(healthy, with_signal, w), name="loop")
    proc.start()

    def verify():
        pid = int(_common.read_line(r, "the loop's process exited before it started"))
        _common.wait_settled(pid, pid, syscalls=("epoll_wait", "epoll_pwait"), what="the loop, idle")
        demo.ready({"child_pid": pid, "healthy": healthy, "signal": with_signal})

    demo.setup_thread(verify)
    proc.join()


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")
        parser.add_argument("--signal", action="store_true", help="the loop awaits an Event a SIGTERM handler sets")

    args = _common.parse_args("lonely_loop", __doc__, extra=extra)
    if sys.version_info < (3, 8):
        sys.stderr.write("lonely_loop: needs Python 3.8+\n")
        sys.exit(2)
    demo = _common.Demo("lonely_loop", args)
    demo.run(main, demo, args.healthy, args.signal)
