"""Three threads on a CPU forever (no system call: /proc/PID/task/TID/syscall reads
"running", no stack pointer), in a process that was never forked: it has no fork ghosts.

usage: python spinning_threads.py   (prints "ready" once the threads run)
"""
from __future__ import print_function

import sys
import threading
import time


def spin():
    x = 0
    while True:
        x += 1


for _ in range(3):
    t = threading.Thread(target=spin)
    t.daemon = True
    t.start()
sys.stdout.write("ready\n")
sys.stdout.flush()
time.sleep(600)
