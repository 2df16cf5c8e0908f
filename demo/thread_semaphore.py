"""thread_semaphore -- a threading.BoundedSemaphore(2) class attribute held in `with` by two threads.

Real-world incident: a report service caps concurrent renders with a class-level
`Renderer.slots = threading.BoundedSemaphore(2)`. Two render threads took a slot each and
hang on a slow backend (here `time.sleep`) inside `with Renderer.slots:`; every other render
thread queues on the semaphore. A threading.Semaphore is a Python object over a Condition:
CPython records no holder, and its waiters sleep on a private lock of their own, so py-spy
shows them "in Condition.wait" with nothing to say whose slot they wait for.

One process (no pool); --workers N render threads (default 4): the first two hold, the rest wait.

What pooltui should show:
* waiters "render-3".."render-N": wait on Renderer.slots (threading.BoundedSemaphore, 0 of 2
  free) at the `with Renderer.slots:` line of Renderer.render, held by render-1 and render-2.
* the lock Renderer.slots: kind semaphore, two holders, each "held by a with block" with the
  line where it took it (the `with Renderer.slots:` line) -- read from memory: the bound
  `Semaphore.__exit__` on each holder's frame's value stack.
* Diagnosis: contention (warning); no deadlock, no error.

Truth: lock {name, kind, id, maxvalue}, holders [{name, ident, tid}], waiters [{name, ident, tid}],
with_site (the `with` line), hold_site (the sleep).
"""
from __future__ import print_function

import threading
import time

import _common

SLOTS = 2
BACKEND_TIME = 3600.0


class Renderer(object):
    slots = threading.BoundedSemaphore(SLOTS)   # two renders at a time

    def __init__(self):
        self.threads = {}
        self.holding = []

    def render(self, report):
        _common.register_thread(self.threads)
        with Renderer.slots:
            self.holding.append(threading.current_thread().name)
            self._call_backend(report)

    def _call_backend(self, report):
        time.sleep(BACKEND_TIME)       # the slow backend, a slot held


def _waiter_locks(sem):
    cond = getattr(sem, "_cond", None) or getattr(sem, "_Semaphore__cond")
    return list(getattr(cond, "_waiters", None) or getattr(cond, "_Condition__waiters", []))


def main(demo, workers):
    renderer = Renderer()
    names = ["render-%d" % (i + 1) for i in range(workers)]
    for name in names[:SLOTS]:
        t = threading.Thread(target=renderer.render, args=(name,), name=name)
        t.daemon = True
        t.start()
    _common.wait_until(lambda: len(renderer.holding) == SLOTS, "two renders to take a slot")
    for name in names[SLOTS:]:
        t = threading.Thread(target=renderer.render, args=(name,), name=name)
        t.daemon = True
        t.start()

    def verify():
        _common.wait_until(lambda: all(n in renderer.threads for n in names), "the render threads to start")
        _common.wait_until(lambda: len(_waiter_locks(Renderer.slots)) == workers - SLOTS, "the waiters to queue")
        futexes = [_common.futex_address(w) for w in _waiter_locks(Renderer.slots)]
        for name in names[SLOTS:]:
            _common.wait_blocked(demo.pid, renderer.threads[name]["tid"], futexes, what=name)
        for name in names[:SLOTS]:
            _common.wait_blocked(demo.pid, renderer.threads[name]["tid"], syscalls=_common.SLEEP_SYSCALLS, what=name)
        demo.wait_main_blocked(syscalls=_common.SLEEP_SYSCALLS)
        demo.ready({
            "lock": {"name": "Renderer.slots", "kind": "threading.BoundedSemaphore",
                     "id": _common.hexaddr(id(Renderer.slots)), "maxvalue": SLOTS},
            "holders": [renderer.threads[n] for n in names[:SLOTS]],
            "waiters": [renderer.threads[n] for n in names[SLOTS:]],
            "with_site": _common.site(Renderer.render, "with Renderer.slots:"),
            "hold_site": _common.site(Renderer._call_backend, "time.sleep("),
        })

    demo.setup_thread(verify)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    args = _common.parse_args("thread_semaphore", __doc__, workers=4)
    demo = _common.Demo("thread_semaphore", args)
    demo.run(main, demo, args.workers)
