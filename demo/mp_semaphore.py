"""mp_semaphore -- a multiprocessing.BoundedSemaphore(2) held by two pool workers, the rest wait.

Real-world incident: a pool renders thumbnails, and a BoundedSemaphore(2) caps how many
workers talk to the (licence-limited) image service at once. Two workers took a slot each and
hang on the service (here `time.sleep`); every other worker queues on the semaphore. `ps`
shows N busy-looking workers, the service sees two idle connections, nothing moves.

Pool(--workers N, default 4; --method fork (default) | spawn | forkserver; 2.7: fork only).
RENDER_SLOTS = ctx.BoundedSemaphore(2), handed to the workers through the Pool initializer.
`pool.map(render_thumbnail, range(N))`: each worker takes one task; two get a slot and sleep
inside `with RENDER_SLOTS:` (in _call_image_service), N-2 block entering it.

What pooltui should show:
* root: role pool parent, MainThread waiting in Pool.map; the pool's handler threads.
* the two holder workers (truth.holders): wait kind sleep in render_thumbnail ->
  _call_image_service; each holds one slot (its own SemLock copy: count 1, last_tid = its ident).
* the N-2 waiting workers: wait kind semlock at the `with RENDER_SLOTS:` line of
  render_thumbnail: "waits on RENDER_SLOTS (multiprocessing BoundedSemaphore, 0 of 2 free)
  held by <holder 1> (pid A), <holder 2> (pid B)" -- a semaphore, not a "lock", and BOTH holders.
* Diagnosis: contention (warning) naming the holders; no deadlock, no error.

Truth: method, lock {name, kind, maxvalue}, holders [{pid, ident}], waiters [{pid, futex}],
worker_pids, wait_site, hold_site.
"""
from __future__ import print_function

import time

import _common

RENDER_SLOTS = None
CHANNEL = None
SLOTS = 2
SERVICE_HANG = 3600.0


def init_worker(slots, channel):
    global RENDER_SLOTS, CHANNEL
    _common.child_setup()
    RENDER_SLOTS, CHANNEL = slots, channel


def _call_image_service(job):
    time.sleep(SERVICE_HANG)        # the service call that never answers, a slot held


def render_thumbnail(job):
    CHANNEL.send(event="entering", ident=_common.current_ident(),
                 futex=_common.futex_address(RENDER_SLOTS))
    with RENDER_SLOTS:
        CHANNEL.send(event="holding", ident=_common.current_ident())
        _call_image_service(job)
    return job


def main(demo, workers, method):
    if workers <= SLOTS:
        raise SystemExit("mp_semaphore needs more than %d workers" % SLOTS)
    ctx = _common.get_context(method)
    slots = ctx.BoundedSemaphore(SLOTS)
    channel = _common.Channel() if method == "fork" else _common.QueueChannel(ctx)
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(slots, channel))

    def verify():
        entering = dict((m["pid"], m) for m in channel.collect(workers, event="entering"))
        holders = channel.collect(SLOTS, event="holding")
        for m in holders:
            _common.wait_blocked(m["pid"], m["pid"], syscalls=_common.SLEEP_SYSCALLS, what="slot holder")
        held = set(m["pid"] for m in holders)
        waiters = []
        for pid in sorted(set(entering) - held):
            _common.wait_blocked(pid, pid, entering[pid]["futex"], what="waiting worker")
            waiters.append({"pid": pid, "futex": _common.hexaddr(entering[pid]["futex"])})
        demo.wait_main_blocked()
        demo.ready({
            "method": method,
            "lock": {"name": "RENDER_SLOTS", "kind": "multiprocessing.BoundedSemaphore", "maxvalue": SLOTS},
            "holders": [{"pid": m["pid"], "ident": m["ident"]} for m in sorted(holders, key=lambda m: m["pid"])],
            "waiters": waiters,
            "worker_pids": _common.pool_pids(pool),
            "wait_site": _common.site(render_thumbnail, "with RENDER_SLOTS:"),
            "hold_site": _common.site(_call_image_service, "time.sleep("),
        })

    demo.setup_thread(verify)
    pool.map(render_thumbnail, range(workers), chunksize=1)


def _options(parser):
    parser.add_argument("--method", choices=("fork", "spawn", "forkserver"), default="fork",
                        help="multiprocessing start method (2.7: fork only)")


if __name__ == "__main__":
    args = _common.parse_args("mp_semaphore", __doc__, workers=4, extra=_options)
    demo = _common.Demo("mp_semaphore", args, start_method=args.method)
    demo.run(main, demo, args.workers, args.method)
