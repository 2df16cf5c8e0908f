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
--program stderr: no input; the tool writes a lot to stderr (a pipe too) before its
stdout, and the task reads stdout to its end first: the tool waits for stderr to be read,
the task for stdout's end. The fix names communicate() (both at once) or stderr=STDOUT.
--healthy: the twin that must draw no verdict: the task uses `communicate()` (it writes and
reads at once) with a tool that echoes, then sleeps, keeping its stdout open; the task waits
for the end of the output while the tool sleeps.
--wait: another shape: the task feeds `sort` (its output to /dev/null) a few lines and waits
for it to exit (`proc.wait()`) without closing its stdin: sort reads until the end of its
input, which never comes while the task holds the write end. With --healthy the task closes
stdin first and waits for a tool that reads to the end, then sleeps: the wait will end.
--wait --via shell: the same through `sh -c "sort; ..."` (the shell waits for sort).
--wait --via output: subprocess's own warning -- the task waits for a program (`head`) whose
stdout is a pipe it never reads, and the program writes more than the pipe holds: the program
blocks in write(), the task in wait4(). The fix names communicate(), not closing stdin. With
--healthy the output fits in the pipe and the program sleeps: the wait will end.
--wait --via python: the same with a Python child whose three threads print to its stdout:
one blocks in write(), the others wait on the file object's own lock (2.7: the C FILE's) --
no Python lock in sight. --healthy: a few lines each, then they sleep.
--wait --via fork: the task forks a child that reads a pipe whose write end only the task
holds, and waits for any child in `os.wait()`; with --healthy a second child sleeps (its exit
ends the wait).

What pooltui should show: a deadlock_cycle (error) through the worker's thread and the
program's (not Python: its threads as the kernel shows them, blocked in write()), each edge a
full pipe whose other end the other holds, and a fix naming communicate(). With --wait: a
deadlock_cycle through the task's wait4() for the program and the program's read() of the pipe
the task holds open, its fix saying to close stdin.

Truth: worker_pid, program_pid, parent_pid.
"""
from __future__ import print_function

import os
import subprocess
import sys
import time

import _common

SIZE = 4 << 20  # far more than two pipe buffers (64 KiB each by default)


def task_wait(healthy, via, report_fd):
    """Feed a program, then wait for it to exit; without ``healthy`` its stdin is left open."""
    if via == "fork":
        return task_wait_any(healthy, report_fd)
    if via in ("output", "python"):
        return task_wait_output(healthy, report_fd, python=via == "python")
    argv = ["sh", "-c", "cat >/dev/null; exec sleep 3600"] if healthy else ["sort"]
    if via == "shell" and not healthy:
        argv = ["sh", "-c", "sort; echo sorted >&2"]
    devnull = open(os.devnull, "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=devnull)
    proc.stdin.write(b"b\na\n")
    proc.stdin.flush()
    if healthy:
        proc.stdin.close()
    os.write(report_fd, ("%d %d\n" % (os.getpid(), proc.pid)).encode())
    return proc.wait()


def task_wait_output(healthy, report_fd, python=False):
    """subprocess's own warning: wait() for a program whose stdout is a pipe nobody reads."""
    argv = ["sh", "-c", "head -c 1000 /dev/zero; exec sleep 3600"] if healthy else ["head", "-c", str(SIZE), "/dev/zero"]
    if python:  # a file, not -c: the lines its threads stand at are read from it
        printers = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_printers.py")
        argv = [sys.executable, printers, str(2 if healthy else SIZE // 4000)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    os.write(report_fd, ("%d %d\n" % (os.getpid(), proc.pid)).encode())
    return proc.wait()


def task_wait_any(healthy, report_fd):
    """A child reading a pipe only this task could write, then os.wait() for any child."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    if healthy:
        sleeper = os.fork()
        if sleeper == 0:
            time.sleep(3600)
            os._exit(0)
    os.write(report_fd, ("%d %d\n" % (os.getpid(), child)).encode())
    return os.wait()


def task(program, healthy, report_fd):
    argv = {
        "cat": ["cat"],
        "tr": ["tr", "a-z", "A-Z"],
        # a Python program (py-spy reads it) that answers before it has read its input
        "python": [sys.executable, "-c", "import os; os.write(1, b'y' * %d); os.read(0, 1)" % SIZE],
        # a tool that writes its diagnostics (stderr) before its answer (stdout)
        # (head's stdout is stderr's pipe; the stdout pipe stays open on its fd 3)
        "stderr": ["sh", "-c", "exec head -c %d /dev/zero 3>&1 >&2" % SIZE],
    }[program]
    if healthy:
        argv = ["sh", "-c", "%s; exec sleep 3600" % (" ".join(argv) if program != "stderr" else "head -c %d /dev/zero >&2" % SIZE)]
    errors = subprocess.PIPE if program == "stderr" else None
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
    os.write(report_fd, ("%d %d\n" % (os.getpid(), proc.pid)).encode())
    if healthy:
        return len(proc.communicate(b"" if program == "stderr" else b"x" * SIZE)[0])
    if program == "stderr":
        proc.stdin.close()
        return len(proc.stdout.read())  # the end of stdout, while stderr fills: nobody reads it
    proc.stdin.write(b"x" * SIZE)  # the program's stdout fills; nobody reads it yet
    proc.stdin.close()
    return len(proc.stdout.read())


def _tasks(pid):
    return sorted(int(tid) for tid in os.listdir("/proc/%d/task" % pid))


def _children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def main(demo, program, healthy, wait, via):
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    pool = ctx.Pool(1)

    def verify():
        line = _common.read_line(r, "the worker closed its report pipe")
        worker, child = [int(x) for x in line.split()]
        if wait:
            _common.wait_blocked(worker, worker, syscalls=("wait4",), what="the task waiting for the program")
            if via == "python":  # three printers: blocked in write() or on the file's lock; or asleep
                calls = ("clock_nanosleep", "nanosleep", "select", "pselect6") if healthy else ("write", "futex")
                _common.wait_until(lambda: len(_tasks(child)) == 3, "the child's three printers to start")
                for tid in _tasks(child):
                    _common.wait_blocked(child, tid, syscalls=calls, what="a printer of the child")
            elif healthy and via != "fork":  # it read to the end and sleeps (exec'd: same pid)
                _common.wait_blocked(child, child, syscalls=("clock_nanosleep", "nanosleep"), what="the tool's sleep")
            elif via == "output":  # the program writes into its full stdout
                _common.wait_blocked(child, child, syscalls=("write",), what="the program writing its stdout")

            elif via == "shell":  # the shell waits for sort, which reads its stdin
                _common.wait_blocked(child, child, syscalls=("wait4",), what="the shell waiting for sort")
                _common.wait_until(lambda: _children(child), "the shell to start sort")
                sort = _children(child)[0]
                _common.wait_blocked(sort, sort, syscalls=("read",), what="sort reading its stdin")
            else:
                _common.wait_blocked(child, child, syscalls=("read",), what="the child reading its stdin")
        elif healthy:  # the tool echoed everything and sleeps (exec'd: same pid); the task waits for EOF
            _common.wait_blocked(child, child, syscalls=("clock_nanosleep", "nanosleep"), what="the tool's sleep")
        elif program == "stderr":
            _common.wait_blocked(worker, worker, syscalls=("read",), what="the task reading the program's stdout")
            _common.wait_blocked(child, child, syscalls=("write",), what="the program writing its stderr")
        else:
            _common.wait_blocked(worker, worker, syscalls=("write",), what="the task writing the program's stdin")
            _common.wait_blocked(child, child, syscalls=("write",), what="the program writing its stdout")
        demo.ready({"worker_pid": worker, "program_pid": child, "parent_pid": demo.pid})

    demo.setup_thread(verify)
    if wait:
        pool.apply(task_wait, (healthy, via, w))
    else:
        pool.apply(task, (program, healthy, w))


if __name__ == "__main__":

    def extra(parser):
        parser.add_argument("--program", choices=("cat", "tr", "python", "stderr"), default="cat")
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")
        parser.add_argument("--wait", action="store_true", help="wait for the program to exit, its stdin left open")
        parser.add_argument("--via", choices=("program", "shell", "fork", "output", "python"), default="program", help="--wait: what the task waits for")

    args = _common.parse_args("subprocess_pipe", __doc__, extra=extra)
    demo = _common.Demo("subprocess_pipe", args)
    demo.run(main, demo, args.program, args.healthy, args.wait, args.via)
