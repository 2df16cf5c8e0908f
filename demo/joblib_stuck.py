"""joblib_stuck -- one joblib/loky task never returns; Parallel() waits for it forever.

Real-world incident: a batch job fans out with joblib.Parallel (loky backend, the default);
one task makes a call that never returns (an upstream service without a timeout; here
`time.sleep`). The other workers finish and sit idle, the parent polls for results forever,
and `ps` shows python processes named only by their `-m joblib.externals.loky...` command lines.

Parallel(n_jobs=--workers N, default 3) over N tasks: task 0 hangs in `fetch_upstream`, the
others return at once. Readiness once the hung worker sleeps in the kernel and the others
are idle. Needs joblib in the target interpreter (`pip install joblib`).

What pooltui should show:
* root: role executor parent; threads "executor manager" (loky's _ExecutorManagerThread,
  idle: waits for results or broken workers) and "queue feeder".
* every loky worker: role loky worker (numbered); all but one idle (waits for its next task
  in `_process_worker`, `call_queue.get()`); loky's resource tracker: role resource tracker.
* the hung worker (truth.stuck.pid): its main thread sleeps in fetch_upstream (not idle).
* Diagnoses: none of severity error.

Truth: worker_pids, idle_pids, stuck {pid, tid}, wait_site, joblib.
"""
from __future__ import print_function

import json
import os
import sys
import tempfile
import threading
import time

import _common

try:
    import joblib
except ImportError:
    joblib = None

UPSTREAM_LATENCY = 3600.0


def fetch_upstream(item):
    time.sleep(UPSTREAM_LATENCY)        # the call that never returns
    return item


def process(item, report_dir):
    _common.child_setup()
    path = os.path.join(report_dir, "%d-%d" % (os.getpid(), item))
    with open(path + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "tid": _common.native_tid(), "item": item}, f)
    os.rename(path + ".tmp", path + ".json")        # the root never reads half a file
    return fetch_upstream(item) if item == 0 else item


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


def main(demo, workers):
    report_dir = tempfile.mkdtemp(prefix="pooltui-joblib-")
    demo.cleanup_paths.append(report_dir)

    def reports():
        return [json.load(open(os.path.join(report_dir, name))) for name in os.listdir(report_dir)
                if name.endswith(".json")]

    def verify():
        _common.wait_until(lambda: len(reports()) >= workers, "every task to start")
        stuck = [r for r in reports() if r["item"] == 0][0]
        _common.wait_blocked(stuck["pid"], stuck["tid"], syscalls=_common.SLEEP_SYSCALLS, what="hung task")
        pids = sorted(pid for pid in _common.children(demo.pid) if "LokyProcess" in _cmdline(pid))
        idle = [pid for pid in pids if pid != stuck["pid"]]
        for pid in idle:
            # settled: a worker that got no task may still be importing (seen "running in _compile_bytecode")
            _common.wait_settled(pid, pid, ("read", "futex") + _common.POLL_SYSCALLS, "idle loky worker")
        demo.ready({
            "joblib": joblib.__version__,
            "worker_pids": pids,
            "idle_pids": idle,
            "stuck": {"pid": stuck["pid"], "tid": stuck["tid"]},
            "wait_site": _common.site(fetch_upstream, "time.sleep("),
        })

    demo.setup_thread(verify)
    # by reference, as tasks defined in a module are (a __main__ function is pickled by value:
    # its frames would read "<dynamic-code>", without file or source line)
    import joblib_stuck as tasks
    joblib.Parallel(n_jobs=workers)(joblib.delayed(tasks.process)(i, report_dir) for i in range(workers))


if __name__ == "__main__":
    if joblib is None:
        sys.exit("demo/joblib_stuck.py needs joblib in this interpreter (%s): pip install joblib" % sys.executable)
    args = _common.parse_args("joblib_stuck", __doc__, workers=3)
    demo = _common.Demo("joblib_stuck", args)
    demo.run(main, demo, args.workers)
