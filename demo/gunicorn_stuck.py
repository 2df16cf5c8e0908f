"""gunicorn_stuck -- a gunicorn worker's request handler hangs on a lock a cache refresher holds.

Real-world incident: every gunicorn worker runs a background thread that refreshes an
in-process cache; it takes the cache's RLock and then makes a slow call to the origin (HTTP
fetch, DB query; here `time.sleep`) while still holding it. A request that reads the cache
stalls behind it. With the sync worker the whole worker is gone for as long as that lasts
(and --timeout is often raised to hide "WORKER TIMEOUT"); with the gthread worker the main
thread keeps notifying the arbiter, so nobody ever notices that the request threads are stuck.

The scenario process *is* the gunicorn arbiter (gunicorn.app.base.BaseApplication run in-process,
bound to 127.0.0.1 on a free port), with --workers N (default 2) of --worker-class sync (default)
or gthread. Each worker starts a "cache-refresher" thread (post_worker_init) that holds
Cache.lock. The demo then sends one HTTP request itself (a raw socket it never reads from) and
signals ready once the handler thread is verified blocked in futex() on that lock. Needs
gunicorn in the target interpreter (`pip install pooltui[demos]`); with setproctitle installed
the processes are titled "gunicorn: master [...]" / "gunicorn: worker [...]".

What pooltui should show:
* root (truth.arbiter_pid): role gunicorn arbiter, its main thread idle (waits for signals in
  Arbiter.run: `sleep` on gunicorn < 24, `wait_for_signals` on 24+), never "stuck".
* every worker: role gunicorn worker (numbered); the ones without the request idle (sync:
  `wait`/select in run_for_one; gthread: poller.select in ThreadWorker.run).
* the stuck worker (truth.stuck.pid): the handler thread (sync: the main thread; gthread: a
  ThreadPoolExecutor thread, role gthread request thread) waits on Cache.lock (RLock) in
  Cache.get held by 'cache-refresher' (same pid), which sleeps in Cache._fetch_from_origin.
* Diagnoses: none of severity error (one waiter behind a live holder: no convoy, no deadlock);
  across refreshes the waiter's stack does not change (stuck).

`--idle`: the healthy server for the false-positive corpus. Each worker's refresher takes
Cache.lock briefly every 0.5 s and sleeps outside it; the demo sends one request, reads the
whole answer, and signals ready once every worker waits for connections. pooltui must show no
warning and no error (roles, idle workers, the refreshers asleep in a timed sleep).

Truth: worker_class, arbiter_pid, worker_pids, idle_pids, stuck {pid, name, ident, tid},
holder {pid, name, ident, tid}, lock {name, kind, id, futex}, wait_site, hold_site, gunicorn.
"""
from __future__ import print_function

import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import _common

try:
    import gunicorn
    from gunicorn.app.base import BaseApplication
except ImportError:
    gunicorn = BaseApplication = None

ORIGIN_LATENCY = 3600.0
CHANNEL = None
CLIENTS = []            # the demo's own HTTP request: kept open, never read


class Cache(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.value = {"answer": 42}

    def refresh(self):
        with self.lock:
            info = _common.thread_info()
            CHANNEL.send(event="holding", lock=_common.lock_facts(self.lock, "Cache.lock", "RLock"), **info)
            self.value = self._fetch_from_origin()

    def _fetch_from_origin(self):
        time.sleep(ORIGIN_LATENCY)         # the slow call made while holding the lock
        return {"answer": 42}

    def get(self):
        with self.lock:
            return dict(self.value)

    def refresh_often(self):
        """The healthy refresher (--idle): short critical sections, the slow part outside."""
        CHANNEL.send(event="holding", lock=_common.lock_facts(self.lock, "Cache.lock", "RLock"), **_common.thread_info())
        while True:
            with self.lock:
                self.value = {"answer": 42}
            time.sleep(0.5)


CACHE = Cache()         # created in the arbiter: every worker has its own copy after fork


def app(environ, start_response):
    CHANNEL.send(event="handling", path=environ.get("PATH_INFO"), **_common.thread_info())
    body = repr(CACHE.get()).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def main_thread_in(file_suffix, functions):
    """The root's main thread's innermost Python frame is one of `functions` (read in-process:
    before 3.11 time.sleep() is a select() too, so the kernel alone cannot tell the arbiter's
    wait for signals from the pause between two worker spawns)."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    return frame is not None and frame.f_code.co_filename.endswith(file_suffix) and frame.f_code.co_name in functions


IDLE = False            # --idle: the healthy server


def post_worker_init(worker):
    refresher = threading.Thread(target=CACHE.refresh_often if IDLE else CACHE.refresh, name="cache-refresher")
    refresher.daemon = True
    refresher.start()


if BaseApplication is not None:
    class DemoServer(BaseApplication):
        def __init__(self, wsgi, options):
            self.options, self.wsgi_app = options, wsgi
            super(DemoServer, self).__init__()

        def load_config(self):
            for key, value in self.options.items():
                if key in self.cfg.settings:        # control_socket is gunicorn 24+
                    self.cfg.set(key, value)

        def load(self):
            return self.wsgi_app


def main(demo, workers, worker_class):
    global CHANNEL
    CHANNEL = _common.Channel()
    tmp = tempfile.mkdtemp(prefix="pooltui-gunicorn-")
    demo.cleanup_paths.append(tmp)
    started = threading.Event()
    arbiter = []

    def when_ready(server):
        arbiter.append(server)
        started.set()

    options = {
        "bind": "127.0.0.1:0", "workers": workers, "worker_class": worker_class,
        "threads": 4 if worker_class == "gthread" else 1,     # threads > 1 turns sync into gthread
        "timeout": max(3600, 2 * (demo.args.lifetime or 0)),   # no WORKER TIMEOUT during the demo
        "loglevel": "warning", "proc_name": "gunicorn_stuck:app",
        "control_socket": os.path.join(tmp, "gunicorn.ctl"), "worker_tmp_dir": tmp,
        "when_ready": when_ready, "post_worker_init": post_worker_init,
    }

    def verify():
        if not started.wait(_common.STATE_TIMEOUT):
            raise _common.StateNotReached("the gunicorn arbiter did not start")
        host, port = arbiter[0].LISTENERS[0].getsockname()[:2]
        holders = _common.holders_asleep(CHANNEL, workers, "cache-refresher")
        client = socket.create_connection((host, port), timeout=_common.STATE_TIMEOUT)
        client.sendall(b"GET /report HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
        if IDLE:
            idle_ready(demo, client, holders, {"worker_class": worker_class, "arbiter_pid": demo.pid})
            return
        CLIENTS.append(client)
        stuck, idle = _common.blocked_on_holder(CHANNEL, holders, "handling", "request handler")
        for pid in idle:
            _common.wait_blocked(pid, pid, syscalls=_common.POLL_SYSCALLS, what="idle worker")
        _common.wait_until(lambda: main_thread_in("gunicorn/arbiter.py", ("sleep", "wait_for_signals")),
                           "the arbiter to wait for signals")
        demo.wait_main_blocked(syscalls=("futex",) + _common.POLL_SYSCALLS)
        truth = _common.holder_truth(holders, stuck, idle, _common.site(Cache.get, "with self.lock:"),
                                     _common.site(Cache._fetch_from_origin, "time.sleep("))
        truth.update({"worker_class": worker_class, "gunicorn": gunicorn.__version__, "arbiter_pid": demo.pid})
        demo.ready(truth)

    demo.setup_thread(verify)
    try:
        DemoServer(app, options).run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def idle_ready(demo, client, holders, truth):
    """--idle: the request is answered in full, then every worker waits for connections."""
    _common.read_answer(client)
    CHANNEL.collect(1, event="handling")
    for pid in holders:
        _common.wait_blocked(pid, pid, syscalls=_common.POLL_SYSCALLS, what="idle worker")
    _common.wait_until(lambda: main_thread_in("gunicorn/arbiter.py", ("sleep", "wait_for_signals")),
                       "the arbiter to wait for signals")
    truth.update({"worker_pids": sorted(holders), "idle": True, "gunicorn": gunicorn.__version__})
    demo.ready(truth)


def _options(parser):
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync",
                        help="gunicorn worker class (default sync)")
    parser.add_argument("--idle", action="store_true", help="a healthy idle server (see the header)")


if __name__ == "__main__":
    if gunicorn is None:
        sys.exit("demo/gunicorn_stuck.py needs gunicorn in this interpreter (%s): "
                 "pip install 'pooltui[demos]' or pip install gunicorn" % sys.executable)
    args = _common.parse_args("gunicorn_stuck", __doc__, workers=2, extra=_options)
    IDLE = args.idle
    demo = _common.Demo("gunicorn_stuck", args)
    demo.run(main, demo, args.workers, args.worker_class)
