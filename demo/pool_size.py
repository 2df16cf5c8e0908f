"""pool_size -- a Pool of any size in a chosen uniform state, for benchmarks of pooltui itself.

Not an incident: a load generator. `--workers N` (default 4) and `--mode`:
  idle     all workers wait for tasks (no task submitted; MainThread parked in Event.wait)
  spin     all workers run a CPU-bound loop (pool.map(spin, range(N)))
  blocked  all workers block on GATE, a multiprocessing.Lock the root's MainThread acquired
           before forking the pool (pool.map(wait_at_gate, range(N)))
  half     N // 2 workers spin, the rest are idle (pool.map_async(...).get())
  bursty   N // 2 workers wake every 10 ms for a short burst of CPU (~0.15 ms, like I/O-bound workers),
           the rest are idle

What pooltui should show: role pool parent + N workers; per mode: idle workers waiting for a
task; spinning workers running spin -> spin_chunk; blocked workers in SemLock.__enter__ over
wait_at_gate at the `with GATE:` line, lock GATE held by the root's MainThread (truth.gate);
oversubscription whenever spinning workers > CPUs; bursty workers in burst -> time.sleep or spin_chunk. Use it to measure the time to first full
screen, refresh cost and memory at N = 4 .. 256.

Spinners wait at a start gate until every one of them holds its task (otherwise hundreds of
spinning workers starve the ones still waiting for a task). Measured on 2 CPUs with 256
spinning workers: ready after 5-15 s, SIGTERM to gone in ~3 s (the root's own threads wait for
CPU and the GIL); idle/blocked 256: ready in < 1 s.

Truth: mode, worker_pids, busy_pids (spinning or bursting), blocked_pids, idle_pids, gate (blocked mode).
"""
from __future__ import print_function

import threading
import time

import _common

CHANNEL = None
GATE = None
START_GATE = None


def init_worker(channel, gate, start_gate):
    global CHANNEL, GATE, START_GATE
    CHANNEL, GATE, START_GATE = channel, gate, start_gate


def spin(task):
    START_GATE.enter()
    while True:
        _common.spin_chunk()


def burst(task):
    CHANNEL.send(event="bursting")
    while True:
        time.sleep(0.01)
        _common.spin_chunk(2000)        # ~0.15 ms of CPU (3.11): handling what woke it


def wait_at_gate(task):
    CHANNEL.send(event="blocking", task=task)
    with GATE:
        return task


def main(demo, workers, mode):
    ctx = _common.get_context("fork")
    channel, gate = _common.Channel(), ctx.Lock()
    start_gate = _common.StartGate(ctx, channel)
    if mode == "blocked":
        gate.acquire()                  # held by the root's MainThread for good
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(channel, gate, start_gate))
    spinners = {"idle": 0, "spin": workers, "half": workers // 2, "blocked": 0, "bursty": 0}[mode]
    bursting = workers // 2 if mode == "bursty" else 0
    blockers = workers if mode == "blocked" else 0

    def verify():
        busy = start_gate.open(spinners)
        busy += sorted(m["pid"] for m in channel.collect(bursting, event="bursting"))
        blocked = sorted(m["pid"] for m in channel.collect(blockers, event="blocking"))
        for pid in blocked:
            _common.wait_blocked(pid, pid, _common.futex_address(gate), what="worker at GATE")
        all_pids = _common.pool_pids(pool)
        idle = [pid for pid in all_pids if pid not in busy and pid not in blocked]
        for pid in idle:
            _common.wait_idle(pid)
        demo.wait_main_blocked()
        truth = {"mode": mode, "worker_pids": all_pids, "busy_pids": busy,
                 "blocked_pids": blocked, "idle_pids": idle}
        if mode == "blocked":
            truth["gate"] = dict(_common.lock_facts(gate, "GATE", "multiprocessing.Lock"),
                                 holder={"pid": demo.pid, "ident": main_ident},
                                 wait_site=_common.site(wait_at_gate, "with GATE:"))
        demo.ready(truth)

    main_ident = _common.current_ident()
    demo.setup_thread(verify)
    if mode == "idle":
        threading.Event().wait()
    elif mode == "half":
        pool.map_async(spin, range(spinners), chunksize=1).get()
    elif mode == "bursty":
        pool.map_async(burst, range(bursting), chunksize=1).get()
    else:
        pool.map(spin if mode == "spin" else wait_at_gate, range(workers), chunksize=1)


def _options(parser):
    parser.add_argument("--mode", choices=("idle", "spin", "blocked", "half", "bursty"), default="idle")


if __name__ == "__main__":
    args = _common.parse_args("pool_size", __doc__, workers=4, extra=_options)
    demo = _common.Demo("pool_size", args)
    demo.run(main, demo, args.workers, args.mode)
