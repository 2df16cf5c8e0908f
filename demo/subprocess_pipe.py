"""subprocess_pipe -- a pool task feeds a program through its stdin while the program's stdout,
a pipe too, fills up: the task waits for the program to read, the program for the task to
read. Neither is Python's fault, neither process looks hung on its own.

Real-world incident: a task compresses or filters a payload through an external tool with
`Popen([...], stdin=PIPE, stdout=PIPE)`, writes the payload, then reads the output. With a
payload larger than the two pipe buffers, the tool blocks writing its output (nobody reads
it yet) and stops reading its input: the task blocks in write() forever, and `map()` in the
parent with it. `ps` shows the tool sleeping, `py-spy dump` shows the task in write().

--program cat (default) | tr | python: the tool (`tr a-z A-Z` translates, `cat` copies; a
Python program that writes its answer before reading its input: a cycle between two
Python processes through two pipes, no multiprocessing.Queue in it).
--healthy: the twin that must draw no verdict: the task uses `communicate()` (it writes and
reads at once) with a tool that echoes, then sleeps, keeping its stdout open; the task waits
for the end of the output while the tool sleeps.

What pooltui should show: a deadlock_cycle (error) through the worker's thread and the
program's (not Python: its threads as the kernel shows them, blocked in write()), each edge a
full pipe whose other end the other holds, and a fix naming communicate().

Truth: worker_pid, program_pid, parent_pid.
"""
from __future__ import print_function

import os
import subprocess
import sys

import _common

SIZE = 4 << 20  # far more than two pipe buffers (64 KiB each by default)


def task(program, healthy, report_fd):
    argv = {
        "cat": ["cat"],
        "tr": ["tr", "a-z", "A-Z"],
        # a Python program (py-spy reads it) that answers before it has read its input
        "python": [sys.executable, "-c", "import os; os.write(1, b'y' * %d); os.read(0, 1)" % SIZE],
    }[program]
    if healthy:
        argv = ["sh", "-c", "%s; exec sleep 3600" % " ".join(argv)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    os.write(report_fd, ("%d %d\n" % (os.getpid(), proc.pid)).encode())
    if healthy:
        return len(proc.communicate(b"x" * SIZE)[0])
    proc.stdin.write(b"x" * SIZE)  # the program's stdout fills; nobody reads it yet
    proc.stdin.close()
    return len(proc.stdout.read())


def main(demo, program, healthy):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    pool = ctx.Pool(1)

    def verify():
        line = _common.read_line(r, "the worker closed its report pipe")
        worker, child = [int(x) for x in line.split()]
        if healthy:  # the tool echoed everything and sleeps (exec'd: same pid); the task waits for EOF
            _common.wait_blocked(child, child, syscalls=("clock_nanosleep", "nanosleep"), what="the tool's sleep")
        else:
            _common.wait_blocked(worker, worker, syscalls=("write",), what="the task writing the program's stdin")
            _common.wait_blocked(child, child, syscalls=("write",), what="the program writing its stdout")
        demo.ready({"worker_pid": worker, "program_pid": child, "parent_pid": demo.pid})

    demo.setup_thread(verify)
    pool.apply(task, (program, healthy, w))


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--program", choices=("cat", "tr", "python"), default="cat")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")

    args = _common.parse_args("subprocess_pipe", __doc__, extra=extra)
    demo = _common.Demo("subprocess_pipe", args)
    demo.run(main, demo, args.program, args.healthy)
