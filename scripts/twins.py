"""Healthy twins under load: each one started on each interpreter given, captured N times in
a row (one fresh LiveSource each: what `pooltui snapshot` runs); any warning or error is a
false alarm. Prints one line per twin and a total; exit 1 on any false alarm.

    .venv/bin/python scripts/twins.py --captures 20 --versions 3.8 3.11 3.13

Issue 26 asks: every healthy twin draws no warning or error in 20 captures under load.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pooltui import scenarios
from pooltui.capture.snapshot import CaptureOptions
from pooltui.model import Severity
from pooltui.sources import LiveSource

TWINS = [
    ("stuck_notify", ("--shape", "queue_event", "--healthy")),
    ("stuck_notify", ("--shape", "cond_lock", "--healthy")),
    ("stuck_notify", ("--shape", "join", "--healthy")),
    ("stuck_notify", ("--shape", "nested_future", "--healthy")),  # 3.x
    ("stuck_notify", ("--shape", "pingpong")),
    ("subprocess_pipe", ("--healthy",)),
    ("subprocess_pipe", ("--program", "stderr", "--healthy")),
    ("subprocess_pipe", ("--wait", "--healthy")),
    ("subprocess_pipe", ("--wait", "--via", "fork", "--healthy")),
    ("subprocess_pipe", ("--wait", "--via", "output", "--healthy")),
    ("subprocess_pipe", ("--wait", "--via", "python", "--healthy")),
    ("own_end", ("--shape", "shared_file", "--healthy")),
    ("outside_peer", ("--peer", "tcp")),
    ("outside_peer", ("--peer", "unix")),
    ("c_lock_fork", ("--healthy",)),  # 3.x
    ("lonely_loop", ("--healthy",)),  # 3.8+
    ("signal_wait", ("--shape", "timed")),  # 3.x: a signal wait with a timeout
    ("loop_future", ("--healthy",)),  # 3.x: a thread waits on a future of a running loop
    ("self_call", ("--healthy",)),  # a thread calls its own process's HTTP server, over and over
    ("lonely_wait", ("--shape", "semaphore", "--healthy")),
    ("own_end", ("--shape", "pipe", "--healthy")),
    ("own_end", ("--shape", "socketpair", "--healthy")),
    ("own_end", ("--shape", "mp_pipe", "--healthy")),
    ("own_end", ("--shape", "crossed", "--healthy")),
    ("shared_wait", ("--shape", "event", "--healthy")),
    ("shared_wait", ("--shape", "condition", "--healthy")),
    ("shared_wait", ("--shape", "semaphore", "--healthy")),
    ("shared_wait", ("--shape", "queue_put", "--healthy")),
    ("shared_wait", ("--shape", "manager_event", "--healthy")),
    ("file_lock", ("--shape", "crossed", "--healthy")),
    ("file_lock", ("--shape", "held")),
    ("lonely_wait", ("--shape", "event", "--healthy")),
    ("lonely_wait", ("--shape", "queue", "--healthy")),
    ("lonely_wait", ("--shape", "condition", "--healthy")),
    ("condition_cycle", ("--shape", "sleeping")),
    ("import_lock", ("--healthy",)),
    ("held_poll", ("--where", "thread", "--via", "select", "--healthy")),
    ("held_poll", ("--where", "thread", "--via", "epoll", "--healthy")),
    ("held_poll", ("--where", "process", "--via", "conn", "--healthy")),
    ("held_poll", ("--where", "process", "--via", "poll", "--healthy")),
    ("healthy", ()),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=20)
    parser.add_argument("--versions", nargs="+", default=["3.8", "3.11", "3.13"])
    parser.add_argument("--only", nargs="+", default=None, help="only these demos' twins")
    args = parser.parse_args()
    alarms = 0
    for version in args.versions:
        python = scenarios.find_python(version)
        if python is None:
            print(f"{version}: not installed, skipped")
            continue
        for name, extra in TWINS:
            if args.only and name not in args.only:
                continue
            if ("nested_future" in extra or name in ("c_lock_fork", "lonely_loop", "loop_future", "signal_wait")) and version.startswith("2."):
                continue  # concurrent.futures, hashlib's own lock, asyncio, sigtimedwait: Python 3
            with scenarios.start(name, python, args=extra, timeout=120) as demo:
                found = []
                for _ in range(args.captures):
                    s = asyncio.run(LiveSource(demo.pid, options=CaptureOptions()).capture())
                    found += [f"{d.kind.value}: {d.summary[:120]}" for d in s.diagnoses if d.severity is not Severity.INFO]
            alarms += len(found)
            print(f"{version} {name} {' '.join(extra)}: {args.captures} captures, {len(found)} warnings/errors", *found[:3], sep="\n    ")
            sys.stdout.flush()
    print(f"total false alarms: {alarms}")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
