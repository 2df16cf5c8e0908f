"""dead_producer -- the parent waits forever on a multiprocessing.Queue whose producer was killed.

Real-world incident: a job runner's "collector" process starts one `multiprocessing.Process`
that computes a result and puts it on a `Queue`; the collector calls `queue.get()` with no
timeout. The producer is killed
(the OOM killer, a stray `kill -9`) before it puts anything. Unlike a Pool or a
ProcessPoolExecutor, nothing notices: the collector keeps the queue's write end itself (every
process holding the Queue does), so its read() never sees EOF and never returns. The
producer stays a zombie: nobody join()s it.

Root (joins the collector) -> collector (one thread: forked from the root's main thread) ->
producer (killed by the collector, a zombie).

What pooltui should show:
* collector MainThread: waits to read from a pipe (multiprocessing queue get()) in collect.
* producer: a zombie, killed by SIGKILL.
* Diagnosis no_waker (error, fact): nobody can end this wait -- no other process (of the tree,
  or of the box) holds the write end of the queue's pipe, and the collector has no other
  thread to write to it.

Truth: collector_pid, producer_pid, wait_site.
"""
from __future__ import print_function

import os
import signal
import time

import _common

def produce(results, started):
    started.set()
    time.sleep(3600)                  # the long computation; killed before it ends
    results.put("report")


def collect(results):
    return results.get()              # no timeout: the producer is gone


def collector(channel):
    ctx = _common.get_context("fork")
    results, started = ctx.Queue(), ctx.Event()
    producer = ctx.Process(target=produce, args=(results, started), name="producer")
    producer.start()
    if started.wait(_common.STATE_TIMEOUT):
        os.kill(producer.pid, signal.SIGKILL)
        channel.send(event="killed", producer=producer.pid)
        collect(results)


def main(demo):
    ctx = _common.get_context("fork")
    channel = _common.Channel()
    child = ctx.Process(target=collector, args=(channel,), name="collector")
    child.start()

    def verify():
        [msg] = channel.collect(1, event="killed")
        _common.wait_until(lambda: _common.is_zombie(msg["producer"]), "the producer to be a zombie")
        _common.wait_blocked(child.pid, child.pid, syscalls=("read",), what="collector")
        demo.wait_main_blocked(syscalls=("wait4",))
        demo.ready({
            "collector_pid": child.pid,
            "producer_pid": msg["producer"],
            "wait_site": _common.site(collect, "results.get()"),
        })

    demo.setup_thread(verify)
    child.join()


if __name__ == "__main__":
    args = _common.parse_args("dead_producer", __doc__)
    demo = _common.Demo("dead_producer", args)
    demo.run(main, demo)
