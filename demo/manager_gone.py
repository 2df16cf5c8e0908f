"""manager_gone -- the multiprocessing Manager server dies; workers limp along on "Broken pipe".

Real-world incident: pool workers share state through a `Manager().dict()`. The manager's
server process is killed (OOM killer, a stray `pkill python`). Every proxy call in the workers
now fails -- EOFError on the call in flight, then BrokenPipeError (2.7: IOError [Errno 32]) or
ConnectionRefusedError -- and the task code, written to survive hiccups, logs the error and
retries forever. The logs fill with "Broken pipe", the pool looks alive, nothing progresses.

Manager (fork) + Pool(--workers N, default 3). `pool.map(record_heartbeats, range(N))`: each
worker loops writing a heartbeat into the shared dict every 0.2 s. Once every worker has
written one, the root SIGKILLs the manager server and reaps it; ready once every worker has
caught the error at least once. Errors go to stderr (first one, then every 10th, to keep the
volume low: a test that pipes stderr without reading it must not block the workers).

What pooltui should show:
* root: role pool parent, MainThread waiting in Pool.map; pool handler threads.
* manager server (truth.manager_pid): gone (event: exited by SIGKILL if seen before).
* N workers: in record_heartbeats, mostly wait kind sleep (the 0.5 s retry back-off), now and
  then inside a proxy call (_callmethod -> Connection.send / connect); they use CPU only briefly.
* Diagnosis: manager server gone (error) -- workers hold proxies (BaseProxy / DictProxy frames,
  manager address) to a manager that no longer exists.

Truth: manager_pid, manager_address, worker_pids, errors {pid: "ExcType: message"} (the first
error each worker caught), retry_interval.
"""
from __future__ import print_function

import os
import signal
import sys
import time

import _common

STATUS = None
CHANNEL = None
HEARTBEAT_INTERVAL = 0.2
RETRY_INTERVAL = 0.5


def init_worker(status, channel):
    global STATUS, CHANNEL
    STATUS, CHANNEL = status, channel


def record_heartbeats(worker_no):
    key = "worker-%d" % worker_no
    failures, connected = 0, False
    while True:
        try:
            STATUS[key] = time.time()
            if not connected:
                connected = True
                CHANNEL.send(event="connected")
            time.sleep(HEARTBEAT_INTERVAL)
        except (EOFError, IOError, OSError) as exc:   # BrokenPipe, ConnectionRefused/Reset, EOF
            failures += 1
            error = "%s: %s" % (type(exc).__name__, exc)
            if failures == 1:
                CHANNEL.send(event="error", error=error)
            if failures == 1 or failures % 10 == 0:
                sys.stderr.write("worker %d (pid %d): heartbeat to manager failed (%s); "
                                 "retrying in %.1fs [failure #%d]\n"
                                 % (worker_no, os.getpid(), error, RETRY_INTERVAL, failures))
                sys.stderr.flush()
            time.sleep(RETRY_INTERVAL)


def record_quietly(worker_no):
    """--quiet: the same loop, keeping nothing of the failure (no exception or message among
    its locals: Python 3 deletes an `except ... as` name when the block ends)."""
    key = "worker-%d" % worker_no
    failed = connected = False
    while True:
        try:
            STATUS[key] = time.time()
            if not connected:
                connected = True
                CHANNEL.send(event="connected")
        except (EOFError, IOError, OSError):
            if not failed:
                failed = True
                CHANNEL.send(event="error", error="")
        time.sleep(RETRY_INTERVAL)


def main(demo, workers, reap=True, quiet=False):
    ctx = _common.get_context("fork")
    manager = ctx.Manager()
    status, channel = manager.dict(), _common.Channel()
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(status, channel))
    manager_pid = manager._process.pid
    if isinstance(manager.address, str) and "/pymp-" in manager.address:
        # the dying server cannot remove its own socket dir; the demo does it at exit
        demo.cleanup_paths.append(os.path.dirname(manager.address))

    def kill_manager_and_verify():
        channel.collect(workers, event="connected")
        os.kill(manager_pid, signal.SIGKILL)
        if reap:
            manager._process.join(_common.STATE_TIMEOUT)      # reap it: really gone, no zombie
            _common.wait_gone(manager_pid)
        else:  # --zombie: nobody reaps it (as when the parent is busy): /proc keeps its exit status
            _common.wait_until(lambda: _common.is_zombie(manager_pid), "the manager to be a zombie")
        errors = channel.collect(workers, event="error")
        demo.wait_main_blocked()
        address = manager.address
        demo.ready({
            "manager_pid": manager_pid,
            "manager_address": address if isinstance(address, str) else repr(address),
            "worker_pids": _common.pool_pids(pool),
            "errors": dict((str(m["pid"]), m["error"]) for m in errors),
            "retry_interval": RETRY_INTERVAL,
        })

    demo.setup_thread(kill_manager_and_verify)
    pool.map(record_quietly if quiet else record_heartbeats, range(workers), chunksize=1)


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--zombie", action="store_true", help="leave the killed manager unreaped (a zombie)")
        parser.add_argument("--quiet", action="store_true", help="workers swallow the errors, keeping no trace among their locals")

    args = _common.parse_args("manager_gone", __doc__, workers=3, extra=extra)
    demo = _common.Demo("manager_gone", args)
    demo.run(main, demo, args.workers, not args.zombie, args.quiet)
