"""celery_hang -- a celery task hangs in a prefork pool worker on a lock a metrics thread holds.

Real-world incident: every pool worker process starts a metrics flusher thread (on the
worker_process_init signal) that takes the metrics registry's RLock and then pushes to a slow
gateway while still holding it (here `time.sleep`). A task that records a metric blocks behind
it; the worker's slot is gone, the queue backs up, `celery inspect active` shows the task as
running forever and says nothing about why.

The scenario process *is* the celery worker's main process (`app.worker_main(["worker",
"--pool=prefork", "--concurrency=N"])`, default N=2) on the filesystem:// broker (kombu;
folders in a temp dir, no server needed), results ignored. The demo enqueues one task itself
and signals ready once the pool worker's main thread is verified blocked in futex() on that
lock. Needs celery in the target interpreter (`pip install pooltui[demos]`); with setproctitle
installed the processes are titled "[celeryd: ...:MainProcess]" / "[celeryd: ...:ForkPoolWorker-1]".

What pooltui should show:
* root (truth.main_pid): role celery main, its main thread idle (waits for messages from the
  broker in the consumer loop), plus the pool's billiard helper threads and celery's timer.
* every pool worker: role celery pool worker (numbered); all but one idle (waits for its next
  task in billiard's workloop).
* the hung worker (truth.stuck.pid): its main thread waits on Metrics.lock (RLock) in
  Metrics.record (task export_report) held by 'metrics-flusher' (same pid), which sleeps in
  Metrics._push.
* Diagnoses: none of severity error (one waiter behind a live holder: no convoy, no deadlock);
  across refreshes the waiter's stack does not change (stuck).

`--idle`: the healthy worker for the false-positive corpus. Each flusher takes Metrics.lock
briefly every 0.5 s and pushes outside it; one task runs to its end, then every pool worker
waits for its next task. pooltui must show no warning and no error.

Truth: main_pid, worker_pids, idle_pids, stuck {pid, name, ident, tid}, holder {pid, name,
ident, tid}, lock {name, kind, id, futex}, wait_site, hold_site, celery.
"""
from __future__ import print_function

import os
import sys
import tempfile
import threading
import time

import _common

try:
    import celery
    from celery import Celery
    from celery.signals import worker_process_init
except ImportError:
    celery = Celery = worker_process_init = None

GATEWAY_LATENCY = 3600.0
CHANNEL = None


class Metrics(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.samples = []

    def flush_forever(self):
        with self.lock:
            CHANNEL.send(event="holding", lock=_common.lock_facts(self.lock, "Metrics.lock", "RLock"),
                         **_common.thread_info())
            self._push(list(self.samples))

    def _push(self, samples):
        time.sleep(GATEWAY_LATENCY)         # the slow push made while holding the lock

    def flush_often(self):
        """The healthy flusher (--idle): copy under the lock, the slow push outside it."""
        CHANNEL.send(event="holding", lock=_common.lock_facts(self.lock, "Metrics.lock", "RLock"),
                     **_common.thread_info())
        while True:
            with self.lock:
                samples, self.samples = self.samples, []
            time.sleep(0.5)

    def record(self, name, value):
        with self.lock:
            self.samples.append((name, value))


METRICS = Metrics()
IDLE = False            # --idle: the healthy worker


def main_thread_in(file_suffix, functions):
    """The root's main thread's innermost Python frame is one of `functions` (read in-process)."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    return frame is not None and frame.f_code.co_filename.endswith(file_suffix) and frame.f_code.co_name in functions


def start_flusher(**kwargs):
    flusher = threading.Thread(target=METRICS.flush_often if IDLE else METRICS.flush_forever, name="metrics-flusher")
    flusher.daemon = True
    flusher.start()


def export_report(report_id):
    CHANNEL.send(event="running", **_common.thread_info())
    METRICS.record("reports.exported", report_id)
    if IDLE:
        CHANNEL.send(event="done", **_common.thread_info())
    return report_id


def make_app(folder):
    for sub in ("queue", "processed"):
        os.mkdir(os.path.join(folder, sub))
    app = Celery("celery_hang", broker="filesystem://", set_as_current=True)
    app.conf.update(
        broker_transport_options={"data_folder_in": os.path.join(folder, "queue"),
                                  "data_folder_out": os.path.join(folder, "queue"),
                                  "processed_folder": os.path.join(folder, "processed"),
                                  "store_processed": False},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_prefetch_multiplier=1,
    )
    return app, app.task(name="celery_hang.export_report")(export_report)


def main(demo, workers):
    global CHANNEL
    CHANNEL = _common.Channel()
    folder = tempfile.mkdtemp(prefix="pooltui-celery-")
    demo.cleanup_paths.append(folder)
    app, task = make_app(folder)
    worker_process_init.connect(start_flusher, weak=False)

    def verify():
        holders = _common.holders_asleep(CHANNEL, workers, "metrics-flusher")
        # the task is sent once the consumer loop runs, not while it still starts (under load the
        # task sometimes never ran in 45 s; the cause is not known: this takes start-up out of it)
        _common.wait_until(lambda: main_thread_in("kombu/transport/virtual/base.py", ("drain_events",)),
                           "the consumer to wait for broker messages")
        task.delay(1)
        if IDLE:
            CHANNEL.collect(1, event="done")
            for pid in holders:
                _common.wait_blocked(pid, pid, syscalls=("read", "futex") + _common.POLL_SYSCALLS, what="idle pool worker")
            _common.wait_until(lambda: main_thread_in("kombu/transport/virtual/base.py", ("drain_events",)),
                               "the consumer to wait for broker messages")
            demo.ready({"celery": celery.__version__, "main_pid": demo.pid, "worker_pids": sorted(holders), "idle": True})
            return
        stuck, idle = _common.blocked_on_holder(CHANNEL, holders, "running", "task")
        for pid in idle:
            _common.wait_blocked(pid, pid, syscalls=("read", "futex") + _common.POLL_SYSCALLS, what="idle pool worker")
        _common.wait_until(lambda: main_thread_in("kombu/transport/virtual/base.py", ("drain_events",)),
                           "the consumer to wait for broker messages")
        demo.wait_main_blocked(syscalls=("futex",) + _common.SLEEP_SYSCALLS + _common.POLL_SYSCALLS)
        truth = _common.holder_truth(holders, stuck, idle, _common.site(Metrics.record, "with self.lock:"),
                                     _common.site(Metrics._push, "time.sleep("))
        truth.update({"celery": celery.__version__, "main_pid": demo.pid})
        demo.ready(truth)

    demo.setup_thread(verify)
    app.worker_main(["worker", "--pool=prefork", "--concurrency=%d" % workers, "--loglevel=WARNING",
                     "--without-mingle", "--hostname=celery_hang@%h"])


if __name__ == "__main__":
    if Celery is None:
        sys.exit("demo/celery_hang.py needs celery in this interpreter (%s): "
                 "pip install 'pooltui[demos]' or pip install celery" % sys.executable)
    args = _common.parse_args("celery_hang", __doc__, workers=2, extra=lambda parser: parser.add_argument(
        "--idle", action="store_true", help="a healthy idle worker (see the header)"))
    IDLE = args.idle
    demo = _common.Demo("celery_hang", args)
    demo.run(main, demo, args.workers)
