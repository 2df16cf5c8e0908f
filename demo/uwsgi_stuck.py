"""uwsgi_stuck -- a uWSGI worker's request hangs on a lock a feature-flag poller holds.

Real-world incident: every uWSGI worker runs a background thread that polls a feature-flag
service; it takes the flag store's RLock and then makes the slow call (HTTP to the flag
service; here `time.sleep`) while still holding it. A request that reads a flag stalls behind
it. Without --harakiri the worker is gone for as long as that lasts: the listen queue fills
up, uwsgitop shows the worker busy on one request and says nothing about why.

The scenario process *is* the uWSGI master: `python demo/uwsgi_stuck.py` execs the `uwsgi`
binary next to the interpreter (`pip install uwsgi` builds it into the venv's bin/) with this
file as its --wsgi-file. The master loads the file -- and with it the demo's readiness FIFO,
--lifetime and demo-control thread -- then forks --workers N (default 3) workers serving HTTP
on an abstract unix socket; --threads T (default 1) gives each worker T request threads
("cores": core 0 is the main thread, the others are pthreads; every core's Python thread is
named uWSGIWorkerNCoreM). Each worker starts a "flag-poller" thread (uwsgi.post_fork_hook)
that holds FeatureFlags.lock. The demo then sends one HTTP request itself (a socket it never
reads from) and signals ready once the handler thread is verified blocked in futex() on that
lock and every core of the other workers sleeps in uWSGI's C loop. Needs uwsgi in the target
interpreter's venv (`pip install pooltui[demos]`; Python 3.8+).

uWSGI options and why: --auto-procname titles the processes "uWSGI master" / "uWSGI worker N"
(--no-titles: all keep the uwsgi command line, as without that option in production);
--die-on-term (SIGTERM stops instead of reloading); no --harakiri (it would kill the stuck
worker); --py-call-uwsgi-fork-hooks, because uWSGI forks in C and by default calls neither
PyOS_BeforeFork() nor PyOS_AfterFork_Child(). Without it (--no-fork-hooks reproduces this) a
thread of the master -- here demo-control and demo-setup -- may hold the GIL at fork time,
and that worker waits for it forever (take_gil in uwsgi_python_master_fixup; the demo then
fails: "got 2 of 3 messages"); every worker keeps stale copies of those threads' states ("fork ghosts"), and on
3.11+, where a thread state points into its thread's C stack, a worker's own new thread that
reuses that stack (glibc's stack cache) turns the copy into garbage: py-spy 0.4 then cannot
read the worker at all ("Failed to find a python interpreter in the .data section"), seen on
3.11, 3.12 (--threads 4) and 3.13; 3.8-3.10 show the ghosts.

What pooltui should show:
* root (truth.master_pid): role uwsgi master; its main thread has no Python frame (uWSGI's
  master loop, C code) and is idle, never "stuck"; demo-control is the demo's own thread.
* every worker: role uwsgi worker (numbered); the workers without the request idle. An idle
  core has no Python frame: it waits in uWSGI's C loop (epoll_wait, or with --threads the
  worker's accept mutex -- a futex that is not a Python lock). Core 0 is the main thread,
  the others have role uwsgi core. Each worker also has its flag-poller, asleep.
* the stuck worker (truth.stuck.pid): the handler thread (the main thread; with --threads
  one of the cores) waits on FeatureFlags.lock (RLock) in FeatureFlags.get held by
  'flag-poller' (same pid), which sleeps in FeatureFlags._fetch_from_flag_service.
* Diagnoses: none of severity error (one waiter behind a live holder: no convoy, no deadlock);
  across refreshes the waiter's stack does not change (stuck).

`--idle`: the healthy server for the false-positive corpus. Each poller takes
FeatureFlags.lock briefly every 0.5 s and makes the slow call outside it; the demo's request
is answered in full, then every core waits in uWSGI's C loop. pooltui must show no warning
and no error.

Truth: threads, titles, fork_hooks, uwsgi, master_pid, worker_pids, idle_pids, stuck {pid,
name, ident, tid}, holder {pid, name, ident, tid}, lock {name, kind, id, futex}, wait_site,
hold_site.
"""
from __future__ import print_function

import argparse
import json
import os
import socket
import sys
import threading
import time

import _common

try:
    import uwsgi            # only inside the uwsgi binary (the master and its workers)
except ImportError:
    uwsgi = None

FLAG_SERVICE_LATENCY = 3600.0
ARGS_ENV = "POOLTUI_UWSGI_STUCK_ARGS"   # the demo's parsed options, from the exec'ing python to the master
CHANNEL = None
CLIENTS = []            # the demo's own HTTP request: kept open, never read


class FeatureFlags(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.flags = {"new_checkout": False}

    def poll(self):
        with self.lock:
            info = _common.thread_info()
            CHANNEL.send(event="holding", lock=_common.lock_facts(self.lock, "FeatureFlags.lock", "RLock"), **info)
            self.flags = self._fetch_from_flag_service()

    def _fetch_from_flag_service(self):
        time.sleep(FLAG_SERVICE_LATENCY)    # the slow call made while holding the lock
        return {"new_checkout": True}

    def poll_often(self):
        """The healthy poller (--idle): the slow call outside the lock."""
        CHANNEL.send(event="holding", lock=_common.lock_facts(self.lock, "FeatureFlags.lock", "RLock"),
                     **_common.thread_info())
        while True:
            time.sleep(0.5)
            with self.lock:
                self.flags = {"new_checkout": True}

    def get(self, name):
        with self.lock:
            return self.flags.get(name, False)


FLAGS = FeatureFlags()  # created in the master: every worker has its own copy after fork


def application(environ, start_response):
    CHANNEL.send(event="handling", path=environ.get("PATH_INFO"), **_common.thread_info())
    body = ("new_checkout=%s\n" % FLAGS.get("new_checkout")).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def post_fork(master_pid, idle=False):
    _common.set_pdeathsig(master_pid)    # Demo's at-fork hook does it only with the fork hooks
    poller = threading.Thread(target=FLAGS.poll_often if idle else FLAGS.poll, name="flag-poller")
    poller.daemon = True
    poller.start()


def request_threads(pid, poller_tid):
    """The worker's uWSGI cores: every task but its flag-poller (core 0 is the main thread)."""
    return sorted(int(tid) for tid in os.listdir("/proc/%d/task" % pid) if int(tid) != poller_tid)


def in_master(args):
    """Runs in the uWSGI master as it loads this file, before it forks the workers."""
    global CHANNEL
    CHANNEL = _common.Channel()
    demo = _common.Demo("uwsgi_stuck", args)
    uwsgi.post_fork_hook = lambda: post_fork(demo.pid, args.idle)
    # an idle core waits in uWSGI's C loop: one in epoll_wait() on the socket, with --threads
    # the others queue for the worker's accept mutex (futex)
    idle_syscalls = _common.POLL_SYSCALLS + (("futex",) if args.threads > 1 else ())

    def verify():
        holders = _common.holders_asleep(CHANNEL, args.workers, "flag-poller")
        with socket.socket(fileno=os.dup(uwsgi.sockets[0])) as listener:
            address = listener.getsockname()    # as bound: uWSGI 2.0 ends an abstract name with a NUL
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(_common.STATE_TIMEOUT)
        client.connect(address)
        client.sendall(b"GET /checkout HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
        CLIENTS.append(client)
        if args.idle:
            idle_ready(demo, args, client, holders, idle_syscalls)
            return
        stuck, idle = _common.blocked_on_holder(CHANNEL, holders, "handling", "request handler")
        for pid in idle:
            for tid in request_threads(pid, holders[pid]["tid"]):
                _common.wait_blocked(pid, tid, syscalls=idle_syscalls, what="idle uWSGI core")
        demo.wait_main_blocked(syscalls=_common.POLL_SYSCALLS)     # the master loop
        version = uwsgi.version
        truth = _common.holder_truth(holders, stuck, idle, _common.site(FeatureFlags.get, "with self.lock:"),
                                     _common.site(FeatureFlags._fetch_from_flag_service, "time.sleep("))
        truth.update({
            "threads": args.threads,
            "titles": args.titles,
            "fork_hooks": args.fork_hooks,
            "uwsgi": version.decode("ascii") if isinstance(version, bytes) else version,
            "master_pid": demo.pid,
        })
        demo.ready(truth)

    demo.setup_thread(verify)


def idle_ready(demo, args, client, holders, idle_syscalls):
    """--idle: the request is answered in full, then every core waits in uWSGI's C loop."""
    _common.read_answer(client)
    CHANNEL.collect(1, event="handling")
    for pid in holders:
        for tid in request_threads(pid, holders[pid]["tid"]):
            _common.wait_blocked(pid, tid, syscalls=idle_syscalls, what="idle uWSGI core")
    demo.wait_main_blocked(syscalls=_common.POLL_SYSCALLS)
    demo.ready({"threads": args.threads, "master_pid": demo.pid, "worker_pids": sorted(holders), "idle": True})


def exec_uwsgi(args):
    """Replace this process with the uWSGI master serving this file (the pid stays the demo's)."""
    binary = os.path.join(os.path.dirname(sys.executable), "uwsgi")
    if not os.access(binary, os.X_OK):
        sys.exit("demo/uwsgi_stuck.py needs uwsgi next to this interpreter (%s): "
                 "pip install 'pooltui[demos]' or pip install uwsgi" % binary)
    # an abstract unix socket: no file to remove (SIGTERM goes to uWSGI's handler, not Demo's)
    address = "@pooltui-uwsgi_stuck-%d" % os.getpid()
    script = os.path.abspath(__file__)
    argv = [binary, "--strict", "--master", "--workers", str(args.workers), "--threads", str(args.threads),
            "--http-socket", address, "--wsgi-file", script, "--pythonpath", os.path.dirname(script),
            "--need-app", "--die-on-term", "--disable-logging"]
    if args.fork_hooks:
        argv += ["--py-call-uwsgi-fork-hooks"]
    if sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        argv += ["--home", sys.prefix]          # the venv uwsgi was installed into
    if args.titles:
        argv += ["--auto-procname"]
    os.environ[ARGS_ENV] = json.dumps(vars(args))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, argv)


def _options(parser):
    parser.add_argument("--threads", type=int, default=1, metavar="T",
                        help="request threads per worker (uWSGI --threads; default 1)")
    parser.add_argument("--no-titles", dest="titles", action="store_false",
                        help="no --auto-procname: every process keeps the uwsgi command line")
    parser.add_argument("--no-fork-hooks", dest="fork_hooks", action="store_false",
                        help="no --py-call-uwsgi-fork-hooks: workers keep stale copies of the master's thread states")
    parser.add_argument("--idle", action="store_true", help="a healthy idle server (see the header)")


if __name__ == "__main__":
    exec_uwsgi(_common.parse_args("uwsgi_stuck", __doc__, workers=3, extra=_options))
elif uwsgi is not None and ARGS_ENV in os.environ:
    in_master(argparse.Namespace(**json.loads(os.environ.pop(ARGS_ENV))))
