"""condition_cycle -- a thread waits on a Condition whose lock the thread that should notify holds.

Real-world incident: a loader thread waits for its configuration with `with cond:
cond.wait()`; the main thread takes `with cond:` to publish the configuration, but first
joins the loader (or waits on a lock it holds) -- still inside the `with`. The loader can
never be notified (notify() needs the lock the main thread holds) and the main thread waits
for the loader: neither moves. Each stack alone looks ordinary ("waits on a Condition",
"waits for a thread to finish").

`--shape sleeping`: the same Condition, but the thread that would notify is alive and asleep
outside the `with` (a notify that never comes: not a deadlock, nothing holds the waiter up).

What pooltui should show:
* 'loader': waits on a Condition (for a notify) in Loader.run.
* MainThread: joins 'loader' while holding the Condition's RLock (or sleeps, --shape sleeping).
* Diagnosis deadlock_cycle (error, fact): 'loader' -> MainThread -> back, the Condition edge
  ("whose lock is held by 'MainThread' ... only that thread can notify it") and the join
  edge. --shape sleeping: no warning and no error.

Truth: shape, main {name, tid, ident}, loader {name, tid, ident}.
"""
from __future__ import print_function

import threading
import time

import _common


class Loader(object):
    def __init__(self):
        self.cond = threading.Condition()     # an RLock underneath: its owner is recorded
        self.config = None
        self.threads = {}

    def run(self):
        _common.register_thread(self.threads)
        with self.cond:
            while self.config is None:
                self.cond.wait()               # blocks: only the main thread can notify, and it joins us


def main(demo, shape):
    loader = Loader()
    worker = threading.Thread(target=loader.run, name="loader")
    worker.daemon = True
    worker.start()
    _common.wait_until(lambda: "loader" in loader.threads, "the loader to start")
    info = loader.threads["loader"]
    _common.wait_blocked(demo.pid, info["tid"], what="loader")
    main_info = _common.thread_info()

    def verify():
        syscalls = ("futex", "wait4") if shape == "join" else _common.SLEEP_SYSCALLS
        _common.wait_blocked(demo.pid, main_info["tid"], syscalls=syscalls, what="main thread")
        demo.ready({"shape": shape, "main": main_info, "loader": info})

    demo.setup_thread(verify)
    if shape == "join":
        with loader.cond:
            worker.join()                      # waits for the loader while holding its Condition's lock
            loader.config = {}
            loader.cond.notify_all()
    else:
        while True:
            time.sleep(3600)                   # alive, asleep, outside the `with`: the notify never comes


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--shape", default="join", choices=("join", "sleeping"))

    args = _common.parse_args("condition_cycle", __doc__, extra=extra)
    demo = _common.Demo("condition_cycle", args)
    demo.run(main, demo, args.shape)
