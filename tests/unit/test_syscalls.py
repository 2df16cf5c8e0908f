"""Parsing /proc/PID/task/TID/syscall: which futex a thread sleeps on (no process needed)."""

from pooltui.capture import memory


def test_syscall_parsing():
    futex = memory._parse_syscall(5, "202 0x55696be378b0 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd 0x7f01\n")
    assert (futex.nr, futex.futex_addr, futex.shared, futex.sp, futex.pc) == (202, 0x55696BE378B0, False, 0x7FFD, 0x7F01)
    assert memory._parse_syscall(5, "202 0x7fa6dc549000 0x109 0 0 0 0 1 2").shared is True
    assert memory._parse_syscall(5, "202 0x7fa6dc549000 0x81 0 0 0 0 1 2").futex_addr is None  # FUTEX_WAKE
    assert memory._parse_syscall(5, "running").nr is None
    blocked = memory._parse_syscall(5, "-1 0x7ffd 0x7f01")
    assert (blocked.nr, blocked.futex_addr, blocked.sp) == (-1, None, 0x7FFD)
    assert memory._parse_syscall(5, "230 0x1 0x1 0x7 0 0 0 1 2").futex_addr is None


def test_a_wait_the_frames_cannot_name_is_named_by_the_kernel():
    """3.10 reports a loop's time.sleep() at its `while True:` line (and sleeps in select()):
    the frames say nothing, the system call and its timeout say it sleeps."""
    from pooltui.analysis.waits import classify
    from pooltui.model import Frame, Thread, WaitKind

    frames = (Frame("user", "/srv/app.py", 4, short_file="app.py", code="while True:"),)
    assert classify(Thread(1, 1, frames=frames, syscall="pselect6", timed=True)).kind is WaitKind.SLEEP
    assert classify(Thread(1, 1, frames=frames, syscall="clock_nanosleep", timed=True)).kind is WaitKind.SLEEP
    assert classify(Thread(1, 1, frames=frames, syscall="pselect6", timed=False)).kind is WaitKind.UNKNOWN  # select() forever: I/O
    assert classify(Thread(1, 1, frames=frames, syscall="futex", timed=True)).kind is WaitKind.UNKNOWN


def test_a_thread_in_futex_with_no_source_line_is_blocked_not_idle():
    """Issue 23 item 4: code run by exec (or whose .py was deleted) has no line to read
    `with LOCK:` from; the kernel still says the thread sleeps in futex(): not "idle"."""
    from pooltui.analysis.waits import classify
    from pooltui.model import Frame, Thread

    frames = (Frame("post_entries", "<plugin-rules>", 12, short_file="<plugin-rules>"), Frame("post", "<plugin-rules>", 31))
    wait = classify(Thread(1, 1, frames=frames, syscall="futex", timed=False))
    assert "idle" not in wait.summary and "futex" in wait.summary, wait.summary
    assert "idle" in classify(Thread(1, 1, frames=frames, syscall=None)).summary  # nothing known: as before
    writing = classify(Thread(1, 1, frames=frames, syscall="write", timed=False))  # a pipe nobody reads
    assert "idle" not in writing.summary and "write()" in writing.summary, writing.summary


def test_a_loop_on_the_line_that_calls_its_task_runs_one():
    """A task that is a C function (pool.map(time.sleep, ...)) or a stdlib method
    (executor.submit(event.wait)) has no frame of the user's own: the worker's loop frame on
    its task call says it runs one -- not idle (all of a pool's workers idle is a hung pool)."""
    from pooltui.analysis.waits import classify
    from pooltui.model import Frame, Thread, WaitKind

    pool = "/usr/lib/python3.11/multiprocessing/pool.py"
    running = (Frame("worker", pool, 125, code="result = (True, func(*args, **kwds))"),)
    queues = "/usr/lib/python3.11/multiprocessing/queues.py"
    idle = (Frame("get", queues, 364, code="with self._rlock:"), Frame("worker", pool, 114, code="task = get()"))
    assert classify(Thread(1, 1, frames=running, syscall="clock_nanosleep", timed=True)).kind is WaitKind.SLEEP
    assert classify(Thread(1, 1, frames=idle, syscall="futex", timed=False)).kind is WaitKind.IDLE
    thread = "/usr/lib/python3.11/concurrent/futures/thread.py"
    executor = (
        Frame("Condition.wait", "/usr/lib/python3.11/threading.py", 327, code="waiter.acquire()"),
        Frame("Event.wait", "/usr/lib/python3.11/threading.py", 629, code="signaled = self._cond.wait(timeout)"),
        Frame("_WorkItem.run", thread, 58, code="result = self.fn(*self.args, **self.kwargs)"),
        Frame("_worker", thread, 83, code="work_item.run()"),
    )
    wait = classify(Thread(1, 1, frames=executor, syscall="futex", timed=False))
    assert wait.kind is WaitKind.EVENT, wait
    waiting = (Frame("_worker", thread, 81, code="work_item = work_queue.get(block=True)"),)
    assert classify(Thread(1, 1, frames=waiting, syscall="futex", timed=False)).kind is WaitKind.IDLE


def test_a_line_that_looks_like_a_lock_is_no_lock_where_the_kernel_says_otherwise():
    """`with open(fifo) as f:` blocks in openat() until a writer opens the FIFO: the `with`
    guess of a lock is dropped where the kernel shows a call no lock waits in."""
    from pooltui.analysis.waits import classify
    from pooltui.model import Frame, Thread, WaitKind

    frames = (Frame("<module>", "/srv/app.py", 5, short_file="app.py", code="with open(path) as f:"),)
    opening = classify(Thread(1, 1, frames=frames, syscall="openat", timed=False))
    assert opening.kind is WaitKind.UNKNOWN and "openat()" in opening.summary and "FIFO" in opening.summary, opening
    assert classify(Thread(1, 1, frames=frames, syscall="futex", timed=False)).kind is WaitKind.LOCK  # a lock's wait: as before
    acquire = (Frame("run", "/srv/app.py", 9, short_file="app.py", code="if LOCK.acquire(timeout=5):"),)
    assert classify(Thread(1, 1, frames=acquire, syscall="restart_syscall", timed=True)).kind is WaitKind.LOCK  # resumed after a ptrace stop
    locked = (Frame("save", "/srv/app.py", 14, short_file="app.py", code="with FileLock(path):"),)
    assert classify(Thread(1, 1, frames=locked, syscall="flock", timed=False)).kind is WaitKind.FILE_LOCK


def test_a_wait_for_a_child_is_a_join_whatever_the_line_looks_like():
    """`os.wait()` reads like an Event's wait(); the kernel says wait4(): a join on a child.
    A program (a shell) in wait4() waits for its child too."""
    from pooltui.analysis.waits import classify
    from pooltui.model import Frame, Thread, WaitKind

    frames = (Frame("<module>", "/srv/app.py", 9, short_file="app.py", code="os.wait()"),)
    waiting = classify(Thread(1, 1, frames=frames, syscall="wait4", timed=False, child=0))
    assert waiting.kind is WaitKind.JOIN and "waits for a child process to exit" in waiting.summary, waiting
    assert classify(Thread(1, 1, frames=frames, syscall="futex", timed=False)).kind is WaitKind.EVENT  # no kernel word: as before
    shell = classify(Thread(1, 1, frames=(), syscall="wait4", timed=False, child=0))
    assert shell.kind is WaitKind.JOIN and "a program" in shell.summary, shell
