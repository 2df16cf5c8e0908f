"""A pool that measures itself, for the read-only test: 2 workers count loop iterations
into shared counters; every process counts the catchable signals it receives (a SIGSTOP
is always followed by a SIGCONT, which is caught); the parent keeps one thread blocked on
an RLock held by another (so the observer reads lock memory too) and writes its numbers
to STATUS every 0.2 s. Workers write a digest of their work at fixed checkpoints (STATUS.outN),
which must equal the digest computed anywhere else.

usage: python readonly_target.py READY_FIFO STATUS_FILE
"""
from __future__ import print_function

import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time

SIGNALS = [signal.SIGCONT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGINT, signal.SIGALRM, signal.SIGWINCH]
received = multiprocessing.Value("i", 0)


def count_signal(signum, frame):
    with received.get_lock():
        received.value += 1


def install():
    for s in SIGNALS:
        signal.signal(s, count_signal)


CHECKPOINT = 200000


def work(counter, out):
    """Hash 0, 1, 2, ...; every CHECKPOINT numbers write the digest so far to ``out``."""
    install()
    h = hashlib.sha256()
    n = 0
    with open(out, "a") as f:
        while True:
            h.update(str(n).encode())
            n += 1
            if n % 1000 == 0:
                with counter.get_lock():
                    counter.value += 1000
            if n % CHECKPOINT == 0:
                f.write("%d %s\n" % (n, h.hexdigest()))
                f.flush()


class Guard(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.held = threading.Event()

    def hold(self):
        with self.lock:
            self.held.set()
            time.sleep(3600)

    def wait(self):
        with self.lock:
            pass


def main():
    ready, status = sys.argv[1], sys.argv[2]
    install()
    counters = [multiprocessing.Value("l", 0) for _ in range(2)]
    procs = [multiprocessing.Process(target=work, args=(c, "%s.out%d" % (status, i)), name="counter-%d" % i) for i, c in enumerate(counters)]
    for p in procs:
        p.daemon = True
        p.start()
    guard = Guard()
    threading.Thread(target=guard.hold, name="holder").start()
    guard.held.wait()
    threading.Thread(target=guard.wait, name="waiter").start()
    with open(ready, "w") as f:
        f.write(json.dumps({"pid": os.getpid(), "workers": [p.pid for p in procs]}) + "\n")
    while True:
        total = sum(c.value for c in counters)
        tmp = status + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"t": time.time(), "iterations": total, "signals": received.value}, f)
        os.rename(tmp, status)
        time.sleep(0.2)


if __name__ == "__main__":
    main()
