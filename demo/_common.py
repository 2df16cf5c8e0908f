"""Shared plumbing for the pooltui demo scenarios (stdlib only; Python 2.7 and 3.8+, Linux).

Every scenario script does::

    args = parse_args("abba", __doc__)
    demo = Demo("abba", args)
    ... reach the misbehaving state (verified, never "sleep and hope") ...
    demo.ready(truth)            # from the thread that verified the state
    ... main thread blocks where the scenario says it blocks ...

What `Demo` gives the root process
----------------------------------
* One infrastructure thread, **"demo-control"**, present in every root on every version
  (the readiness JSON lists it under "demo_threads" so tests can discount it). It sits in
  `select()` and
    - writes the readiness line (to a regular file, a FIFO -- opened non-blocking and retried,
      so a missing reader never blocks signal handling -- or stdout) once every setup thread
      that might still be on its way out has exited;
    - ends the scenario when --lifetime seconds pass (exit code 0);
    - ends it on SIGTERM / SIGINT (exit code 143 / 130; 2.7 cannot tell them apart: 143).
  If the state is not reached within STATE_TIMEOUT the root exits 3 after writing
  `{"scenario", "pid", "error"}` instead of the readiness line.
  Signals are handled in that thread, not in a Python signal handler: on 2.7 a handler never
  runs while the main thread is blocked in `lock.acquire()` (not interruptible before 3.2),
  and a blocked main thread is exactly where these demos sit. The C-level handler still
  writes the signal number to the wakeup fd (`signal.set_wakeup_fd`), which demo-control watches.
* Shutdown SIGSTOPs the children, SIGKILLs every descendant (found through /proc, so managers,
  forkservers and replacement workers are included), reaps the direct children and
  `os._exit`s. Named
  semaphores of spawn/forkserver contexts are left to the resource tracker, which is not
  killed: it unlinks them and exits by itself once the root is gone.
* Every process forked from the root (pool workers, manager server, `Process`) gets, right
  after fork: PR_SET_PDEATHSIG(SIGKILL) (dies with the root even if the root is SIGKILLed),
  default SIGTERM/SIGINT dispositions and no wakeup fd. Processes not forked from the root
  (forkserver/spawn children) call `child_setup()` from their initializer.

Readiness JSON (one line)::

    {"scenario": NAME, "pid": ROOT_PID, "python": "3.11.7", "start_method": "fork",
     "demo_threads": ["demo-control"], "truth": {...}}

Readers of a regular file should wait for the trailing newline.

2.7 note: a fork child keeps the parent's other threads as stale thread states, so py-spy shows
"ghost" stacks of demo-control (and of any other root thread alive at fork time) in every
2.7 worker, with no kernel task behind them; they are an artefact of 2.7, not of a scenario.

State checks: `wait_blocked(pid, tid, addrs)` polls /proc/PID/task/TID/syscall until the thread
sleeps in futex() on the glibc sem_t of the given lock (`futex_address(lock)`), so "blocked on
that lock" is verified from the kernel, not assumed.
"""
from __future__ import print_function

import argparse
import ctypes
import errno
import fcntl
import inspect
import json
import multiprocessing
import os
import platform
import select
import shutil
import signal
import stat
import sys
import threading
import time
import traceback

PY2 = sys.version_info[0] == 2
# seconds to reach the state before failing (Demo raises it for big pools; the tests raise it with
# $POOLTUI_DEMO_STATE_TIMEOUT: a framework starting on a loaded machine takes longer, not forever)
STATE_TIMEOUT = float(os.environ.get("POOLTUI_DEMO_STATE_TIMEOUT") or 15.0)
EXIT_LIFETIME, EXIT_STATE_NOT_REACHED = 0, 3
CONTROL_THREAD = "demo-control"

_ARCH = platform.machine()
# syscall numbers, as shown in /proc/PID/task/TID/syscall
_SYSCALLS = {
    "x86_64": {"read": 0, "write": 1, "recvfrom": 45, "recvmsg": 47, "poll": 7, "select": 23, "nanosleep": 35, "wait4": 61, "futex": 202,
               "clock_nanosleep": 230, "pselect6": 270, "ppoll": 271, "gettid": 186, "fcntl": 72, "flock": 73,
               "epoll_wait": 232, "epoll_pwait": 281, "epoll_pwait2": 441, "pause": 34, "rt_sigtimedwait": 128},
    "aarch64": {"read": 63, "write": 64, "recvfrom": 207, "recvmsg": 212, "nanosleep": 101, "wait4": 260, "futex": 98, "clock_nanosleep": 115,
                "pselect6": 72, "ppoll": 73, "gettid": 178, "fcntl": 25, "flock": 32, "epoll_pwait": 22, "epoll_pwait2": 441},
}.get(_ARCH, {})
SLEEP_SYSCALLS = ("clock_nanosleep", "nanosleep", "select", "pselect6")   # time.sleep()
POLL_SYSCALLS = ("select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_pwait2")

_libc = ctypes.CDLL(None, use_errno=True)
try:
    long_type = long          # noqa: F821  (2.7)
except NameError:
    long_type = int
_PR_SET_PDEATHSIG = 1


class StateNotReached(Exception):
    """The scenario did not reach its state within STATE_TIMEOUT."""


# ---------------------------------------------------------------------------------------------
# small helpers

def get_context(method="fork"):
    """The multiprocessing context for `method` (2.7: the module itself, fork only)."""
    if PY2:
        if method != "fork":
            raise SystemExit("Python 2.7 only has the fork start method")
        return multiprocessing
    return multiprocessing.get_context(method)


def current_ident():
    """threading ident of the calling thread (= what lock owner fields and py-spy thread_id hold)."""
    return threading.current_thread().ident


def native_tid():
    """Kernel TID of the calling thread (py-spy's os_thread_id, /proc/PID/task/TID)."""
    get_native_id = getattr(threading, "get_native_id", None)
    if get_native_id is not None:
        return get_native_id()
    return _libc.syscall(_SYSCALLS["gettid"])


def thread_info():
    """{name, ident, tid} of the calling thread."""
    thread = threading.current_thread()
    return {"name": thread.name, "ident": thread.ident, "tid": native_tid()}


def register_thread(registry):
    """Record the calling thread's thread_info() in `registry` under its name."""
    info = thread_info()
    registry[info["name"]] = info


def hexaddr(value):
    return None if value is None else "0x%x" % value


def futex_address(lock):
    """Address of the glibc sem_t a thread sleeps on (futex uaddr) while blocked acquiring `lock`.

    multiprocessing Lock/RLock: the SemLock handle. 2.7 threading.RLock is the pure-Python
    _RLock: its inner thread.lock. C _thread.lock/_thread.RLock (and 2.7 thread.lock):
    `lock_lock` at +16 (2.7 and 3.8-3.13; see ARCHITECTURE.md, Lock facts). None if unknown.
    """
    semlock = getattr(lock, "_semlock", lock)
    if type(semlock).__name__ == "SemLock":
        return semlock.handle
    inner = getattr(lock, "_RLock__block", None)
    if inner is not None:
        return futex_address(inner)
    if type(lock).__name__ in ("lock", "RLock") and sys.version_info < (3, 14):
        return ctypes.c_size_t.from_address(id(lock) + 16).value
    return None


def lock_facts(lock, name, kind):
    """Ground truth about one lock: name as the user reads it, kind, object id, futex address."""
    return {"name": name, "kind": kind, "id": hexaddr(id(lock)),
            "futex": hexaddr(futex_address(lock))}


def site(func, needle):
    """Where a thread waits: file, function, qualname and line of `needle` inside `func`."""
    owner = getattr(func, "im_class", None)          # 2.7 unbound method: no __qualname__
    func = getattr(func, "__func__", func)
    lines, start = inspect.getsourcelines(func)
    offsets = [i for i, text in enumerate(lines) if needle in text]
    if not offsets:
        raise ValueError("%r not found in %s" % (needle, func.__name__))
    qualname = getattr(func, "__qualname__", None) or (
        owner.__name__ + "." + func.__name__ if owner else func.__name__)
    return {"file": os.path.abspath(inspect.getsourcefile(func)), "function": func.__name__,
            "qualname": qualname, "line": start + offsets[0]}


def _retry_eintr(fn, *args):
    # 2.7 does not retry select()/read() after a signal (PEP 475 is 3.5+)
    while True:
        try:
            return fn(*args)
        except (OSError, IOError, select.error) as exc:
            code = exc.args[0] if exc.args else None
            if getattr(exc, "errno", code) != errno.EINTR:
                raise


def set_pdeathsig(expected_parent):
    """SIGKILL this process when its parent (thread) dies; exit now if it already has."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)


def read_until(fd, enough, what):
    """What other processes of the demo report through a pipe, read until `enough(got)`;
    StateNotReached(`what`) when the writers close it first."""
    got = b""
    while not enough(got):
        chunk = os.read(fd, 4096)
        if not chunk:
            raise StateNotReached(what)
        got += chunk
    return got


def read_line(fd, what):
    """One line another process of the demo reports through a pipe (a pid, its tids as JSON);
    StateNotReached(`what`) when the writer closes it first."""
    return read_until(fd, lambda got: got.endswith(b"\n"), what)


def no_pdeathsig():
    """Do not die with the parent: a process the demo hands over to init (a service outside its tree)."""
    _libc.prctl(_PR_SET_PDEATHSIG, 0, 0, 0, 0)


def child_setup(expected_parent=None):
    """Call in processes not forked from the root (forkserver/spawn initializers)."""
    set_pdeathsig(expected_parent if expected_parent is not None else os.getppid())


# ---------------------------------------------------------------------------------------------
# /proc: process tree and "is this thread blocked in that syscall"

def _children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except (IOError, OSError):
            continue
        ppid = int(data[data.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def children(pid):
    """Direct children of `pid` (from /proc/PID/task/*/children: a few reads, not a /proc scan --
    it matters when hundreds of spinning workers compete for the CPU)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    out = []
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(child) for child in f.read().split())
        except (IOError, OSError):       # kernel without CONFIG_PROC_CHILDREN: scan /proc
            return _children_map().get(pid, [])
    return out


def descendants(pid, visit=None):
    """Pids of all descendants of `pid`, parents before children. `visit(pid)` is called on
    each one right after its own children were listed (so killing it there loses no grandchild
    to re-parenting)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        kids = children(current)
        if visit is not None and current != pid:
            visit(current)
        out.extend(kids)
        todo.extend(kids)
    return out


def read_syscall(pid, tid):
    """(nr, arg0) the thread is blocked in, ("running", None), or None if unreadable."""
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
            fields = f.read().split()
    except (IOError, OSError):
        return None
    if not fields or fields[0] == "running":
        return ("running", None)
    return (int(fields[0]), int(fields[1], 16) if len(fields) > 1 else None)


def _thread_state(pid, tid):
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
            data = f.read()
    except (IOError, OSError):
        return None
    return data[data.rfind(")") + 2:].split()[0]


def wait_blocked(pid, tid, addrs=None, syscalls=("futex",), timeout=None, what=None):
    """Wait until thread `tid` of `pid` sleeps in one of `syscalls`.

    With `addrs` (one address or a collection) the futex word must be one of them -- i.e. the
    thread is blocked on exactly that lock. Returns (nr, arg0). Where /proc/PID/task/TID/syscall
    cannot be read (no ptrace rights, unknown arch) it settles for the thread sleeping.
    """
    if isinstance(addrs, (int, long_type)):
        addrs = (addrs,)
    wanted = set(_SYSCALLS[name] for name in syscalls if name in _SYSCALLS)
    timeout = STATE_TIMEOUT if timeout is None else timeout
    deadline = time.time() + timeout
    while True:
        got = read_syscall(pid, tid) if wanted else None
        if got is None:
            if _thread_state(pid, tid) == "S":
                time.sleep(0.05)          # fallback: cannot see the syscall, thread is asleep
                return (None, None)
        elif got[0] in wanted and (not addrs or got[0] != _SYSCALLS.get("futex")
                                   or got[1] in addrs):
            return got
        if time.time() > deadline:
            raise StateNotReached("%s (pid %d tid %d) not blocked in %s%s; last seen %r" % (
                what or "thread", pid, tid, "/".join(syscalls),
                " on " + ",".join(hexaddr(a) for a in addrs) if addrs else "", got))
        time.sleep(0.005)


def _switches(pid, tid):
    """The thread's voluntary and involuntary context switch counts (None if unreadable)."""
    try:
        with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
            return [line for line in f if "ctxt_switches" in line]
    except (IOError, OSError):
        return None


def wait_settled(pid, tid, syscalls, what, quiet=0.2):
    """wait_blocked(), and then the thread stays off the CPU for `quiet` seconds: its context
    switch counts and its system call stand still. A worker still starting up passes
    wait_blocked() for a moment (blocked in read() of a module it imports) and runs on; one
    that waits for its next task does not (its timeout, if any, is far longer)."""
    deadline = time.time() + STATE_TIMEOUT
    while True:
        got = wait_blocked(pid, tid, syscalls=syscalls, what=what, timeout=max(0.0, deadline - time.time()))
        before = _switches(pid, tid)
        time.sleep(quiet)
        if before is None or (_switches(pid, tid) == before and read_syscall(pid, tid) == got):
            return got
        if time.time() > deadline:
            raise StateNotReached("%s (pid %d tid %d) never stayed blocked in %s for %gs" % (
                what, pid, tid, "/".join(syscalls), quiet))


def wait_idle(pid, tid=None, what="idle worker"):
    """Wait until a worker's thread sleeps reading its task pipe or on the queue's lock."""
    return wait_blocked(pid, tid or pid, syscalls=("read", "futex"), what=what)


def holders_asleep(channel, count, what):
    """The framework demos' lock holders: one thread per worker reports "holding" over
    ``channel`` and sleeps with the lock. Returns {pid: message} once every one sleeps."""
    holders = dict((m["pid"], m) for m in channel.collect(count, event="holding"))
    for pid, m in holders.items():
        wait_blocked(pid, m["tid"], syscalls=SLEEP_SYSCALLS, what=what)
    return holders


def blocked_on_holder(channel, holders, event, what):
    """The thread that reported ``event`` (a request handler, a task), once it sleeps on
    its worker's held lock; and the other workers' pids (idle)."""
    stuck = channel.collect(1, event=event)[0]
    lock = holders[stuck["pid"]]["lock"]
    wait_blocked(stuck["pid"], stuck["tid"], int(lock["futex"], 16), what=what)
    return stuck, sorted(pid for pid in holders if pid != stuck["pid"])


def holder_truth(holders, stuck, idle, wait_site, hold_site):
    """The truth the framework demos share: workers, the stuck thread, its lock's holder."""
    holder = holders[stuck["pid"]]

    def thread(m):
        return dict((k, m[k]) for k in ("pid", "name", "ident", "tid"))

    return {
        "worker_pids": sorted(holders),
        "idle_pids": idle,
        "stuck": thread(stuck),
        "holder": thread(holder),
        "lock": holder["lock"],
        "wait_site": wait_site,
        "hold_site": hold_site,
    }


def read_answer(client):
    """Read an HTTP answer to its end (the server closes the connection); it must be a 200."""
    answer = b""
    while True:
        chunk = client.recv(65536)
        if not chunk:
            break
        answer += chunk
    client.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise StateNotReached("the request was not answered: %r" % answer[:80])
    return answer


def pool_pids(pool):
    """Pids of a multiprocessing.Pool's current worker processes that have started.

    A replacement not yet started is left out: 2.7's Pool._repopulate_pool appends the new
    Process to pool._pool *before* start() (3.x starts it first), and its pid is None until
    fork() has returned; a readiness that read the pool in that window (the handler thread
    descheduled under load) named None as killed_worker's replacement. So a caller waiting
    for a replacement waits for len(pool_pids(pool)) == workers."""
    return sorted(p.pid for p in list(pool._pool) if p.pid is not None)


def is_zombie(pid):
    """The process is a zombie (exited, not reaped): /proc/PID/stat state Z."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (IOError, OSError):
        return False
    return data[data.rfind(")") + 2:].split()[0] == "Z"


def wait_until(predicate, what, timeout=None):
    """Poll `predicate()` until true; StateNotReached(what) after `timeout` seconds."""
    deadline = time.time() + (STATE_TIMEOUT if timeout is None else timeout)
    while not predicate():
        if time.time() > deadline:
            raise StateNotReached("timed out waiting for " + what)
        time.sleep(0.005)


def wait_gone(pid, timeout=None):
    """Wait until /proc/PID has disappeared (process exited and was reaped)."""
    deadline = time.time() + (STATE_TIMEOUT if timeout is None else timeout)
    while os.path.exists("/proc/%d" % pid):
        if time.time() > deadline:
            raise StateNotReached("pid %d still exists" % pid)
        time.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# child -> root messages

class Channel(object):
    """Line-of-JSON messages from forked children to the root over an inherited os.pipe.

    No locks and no helper threads are involved on the sending side (a multiprocessing.Queue
    would add a feeder thread to every worker), and each message is one atomic write.
    Fork only: spawn/forkserver children get a multiprocessing SimpleQueue instead.
    """

    def __init__(self):
        self._r, self._w = os.pipe()
        self._buf = b""
        self._backlog = []           # received messages no collect() has asked for yet

    def send(self, **msg):
        msg.setdefault("pid", os.getpid())
        os.write(self._w, (json.dumps(msg) + "\n").encode("utf-8"))

    def _recv(self, deadline):
        while b"\n" not in self._buf:
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            if _retry_eintr(select.select, [self._r], [], [], remaining)[0]:
                self._buf += _retry_eintr(os.read, self._r, 65536)
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))

    def collect(self, count, timeout=None, **match):
        """The next `count` messages whose fields equal `match` (others are kept for later)."""
        timeout = STATE_TIMEOUT if timeout is None else timeout
        deadline = time.time() + timeout

        def matches(msg):
            return all(msg.get(k) == v for k, v in match.items())

        out = [msg for msg in self._backlog if matches(msg)][:count]
        for msg in out:
            self._backlog.remove(msg)
        while len(out) < count:
            msg = self._recv(deadline)
            if msg is None:
                raise StateNotReached("got %d of %d messages %r from the children within %.1fs"
                                      % (len(out), count, match, timeout))
            (out if matches(msg) else self._backlog).append(msg)
        return out


class QueueChannel(Channel):
    """Channel for children that do not inherit the root's pipe (spawn, forkserver): a
    multiprocessing SimpleQueue (no feeder thread; pass it to the child as an argument)."""

    def __init__(self, ctx):
        self._queue = ctx.SimpleQueue()
        self._backlog = []

    def send(self, **msg):
        msg.setdefault("pid", os.getpid())
        self._queue.put(json.dumps(msg))

    def _recv(self, deadline):
        if not self._queue._reader.poll(max(0.0, deadline - time.time())):
            return None
        return json.loads(self._queue.get())


class StartGate(object):
    """Lets every pool worker take its task before any of them starts to spin.

    With hundreds of CPU-bound workers on a few cores, workers that spin at once starve the
    ones still waiting for a task, and the pool takes minutes to reach its state. The gate is
    a semaphore released once per worker (sem_post wakes exactly one waiter: no thundering
    herd, no handshake as in multiprocessing.Event).
    """

    def __init__(self, ctx, channel):
        self.semaphore = ctx.Semaphore(0)
        self.channel = channel

    def enter(self):
        """Worker side: announce, then wait for the gate."""
        self.channel.send(event="at-gate")
        self.semaphore.acquire()

    def open(self, count):
        """Root side: wait for `count` workers at the gate, let them all through and wait
        until each is running (state R). Returns their pids."""
        pids = sorted(m["pid"] for m in self.channel.collect(count, event="at-gate"))
        for _ in pids:
            self.semaphore.release()
        for pid in pids:
            wait_until(lambda pid=pid: _thread_state(pid, pid) == "R", "worker %d to run" % pid)
        return pids


# ---------------------------------------------------------------------------------------------
# CLI and the Demo object

def parse_args(scenario, doc, workers=None, extra=None):
    """The common CLI: --ready PATH, --lifetime S, --workers N (+ scenario options via `extra`)."""
    summary = (doc or scenario).strip().splitlines()[0]
    parser = argparse.ArgumentParser(prog="demo/%s.py" % scenario, description=summary)
    parser.add_argument("--ready", metavar="PATH",
                        help="write the readiness JSON line here (file or FIFO); default: stdout")
    parser.add_argument("--lifetime", type=float, default=600.0, metavar="S",
                        help="exit cleanly after S seconds (<= 0: never); default 600")
    parser.add_argument("--workers", type=int, default=workers, metavar="N",
                        help="number of workers/threads%s" % (
                            " (default %s)" % workers if workers else " (unused here)"))
    if extra is not None:
        extra(parser)
    return parser.parse_args()


class Demo(object):
    """Root-side lifecycle of one scenario: control thread, readiness, shutdown."""

    def __init__(self, scenario, args, start_method="fork"):
        global STATE_TIMEOUT
        if args.workers:                # starting hundreds of workers on a small box takes time
            STATE_TIMEOUT = max(STATE_TIMEOUT, 0.1 * args.workers)
        self.scenario = scenario
        self.args = args
        self.start_method = start_method
        self.pid = os.getpid()
        self.cleanup_paths = []         # removed on exit (e.g. a killed manager's socket dir)
        self._pending = None            # readiness line waiting to be written
        self._setup_threads = []
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        for signum in (signal.SIGTERM, signal.SIGINT):
            # a Python-level handler is needed for the C handler (and the wakeup fd write)
            # to be installed; the work happens in demo-control
            signal.signal(signum, _noop_handler)
        signal.set_wakeup_fd(self._wake_w)
        self._forking_pid = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self._before_fork,
                                after_in_child=self._after_fork_in_child)
        else:                           # 2.7: every multiprocessing child runs these
            multiprocessing.util.register_after_fork(self, Demo._after_fork_in_child)
        lifetime = args.lifetime
        self._deadline = time.time() + lifetime if lifetime and lifetime > 0 else None
        self._control = threading.Thread(target=self._control_loop, name=CONTROL_THREAD)
        self._control.daemon = True
        self._control.start()

    # -- children ------------------------------------------------------------------------------
    def _before_fork(self):
        self._forking_pid = os.getpid()

    def _after_fork_in_child(self):
        # the pid that forked us: recorded before fork (3.x), or the Process's parent (2.7)
        parent = self._forking_pid or getattr(multiprocessing.current_process(),
                                              "_parent_pid", None) or os.getppid()
        set_pdeathsig(parent)
        try:
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        for fd in (self._wake_r, self._wake_w):
            if fd is None:
                continue  # closed in an ancestor: the number may be another file's now (a grandchild's Popen pipe)
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = None

    # -- readiness -----------------------------------------------------------------------------
    def setup_thread(self, target, name="demo-setup"):
        """Run `target()` in a thread that verifies the state and calls ready(); it must end
        after ready(). The readiness line is written only once it has exited, so the root's
        thread list at ready time is final. Exceptions end the scenario (exit 3)."""
        def run():
            try:
                target()
            except Exception:
                self.fail(traceback.format_exc())
        thread = threading.Thread(target=run, name=name)
        thread.daemon = True
        self._setup_threads.append(thread)
        thread.start()
        return thread

    def ready(self, truth):
        """Announce the state (written by demo-control)."""
        payload = {"scenario": self.scenario, "pid": self.pid,
                   "python": platform.python_version(), "start_method": self.start_method,
                   "demo_threads": [CONTROL_THREAD], "truth": truth}
        self._pending = json.dumps(payload, sort_keys=True) + "\n"
        self._kick()

    def wait_main_blocked(self, syscalls=("futex",), addrs=None):
        """Wait until the root's main thread sleeps in one of `syscalls` (e.g. inside map())."""
        return wait_blocked(self.pid, self.pid, addrs=addrs, syscalls=syscalls,
                            what="root main thread")

    def fail(self, message):
        """State not reached: report on stderr (and the ready path) and exit 3."""
        sys.stderr.write("demo %s: FAILED: %s\n" % (self.scenario, message.rstrip()))
        line = json.dumps({"scenario": self.scenario, "pid": self.pid,
                           "error": message.strip().splitlines()[-1]}) + "\n"
        try:
            self._write_ready(line)
        except Exception:
            pass
        self.shutdown(EXIT_STATE_NOT_REACHED)

    def block(self):
        """Park the calling thread for good (demo-control ends the process)."""
        while True:
            threading.Event().wait()

    def run(self, main, *args):
        """Call main(*args) in this (main) thread; an exception ends the scenario (exit 3)."""
        try:
            main(*args)
        except Exception:
            self.fail(traceback.format_exc())
        self.block()

    # -- control thread ------------------------------------------------------------------------
    def _kick(self):
        try:
            os.write(self._wake_w, b"k")
        except OSError:
            pass

    def _control_loop(self):
        while True:
            now = time.time()
            timeout = None if self._deadline is None else max(0.0, self._deadline - now)
            if self._pending is not None:
                timeout = 0.02 if timeout is None else min(timeout, 0.02)
            try:
                readable = select.select([self._wake_r], [], [], timeout)[0]
            except (select.error, OSError, IOError):
                readable = []           # EINTR on 2.7; the wakeup byte is still there
            if readable:
                try:
                    data = os.read(self._wake_r, 4096)
                except OSError:
                    data = b""
                signals = [c for c in bytearray(data) if c != ord("k")]
                if signals:
                    signum = signals[0] or signal.SIGTERM   # 2.7 writes "\0"
                    self.shutdown(128 + signum)
            if self._deadline is not None and time.time() >= self._deadline:
                self.shutdown(EXIT_LIFETIME)
            if self._pending is not None and not any(t.is_alive() for t in self._setup_threads):
                if self._write_ready(self._pending):
                    self._pending = None

    def _write_ready(self, line):
        """Write the line; for a FIFO without a reader yet return False (retried later)."""
        path = self.args.ready
        if not path:
            sys.stdout.write(line)
            sys.stdout.flush()
            return True
        flags = os.O_WRONLY
        is_fifo = os.path.exists(path) and stat.S_ISFIFO(os.stat(path).st_mode)
        flags |= os.O_NONBLOCK if is_fifo else os.O_CREAT | os.O_TRUNC
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ENXIO:      # FIFO with no reader yet
                return False
            raise
        try:
            if is_fifo:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        return True

    # -- the end -------------------------------------------------------------------------------
    def shutdown(self, code):
        """Kill every descendant, clean up, exit with `code` (whatever goes wrong on the way)."""
        try:
            if os.getpid() == self.pid:
                self._kill_descendants()
                _remove_mp_tempdir()
                for path in self.cleanup_paths:
                    shutil.rmtree(path, ignore_errors=True)
                sys.stdout.flush()
                sys.stderr.flush()
        finally:
            os._exit(code)

    def _kill_descendants(self):
        """SIGSTOP the children (spinning workers stop competing for the CPU), SIGKILL the whole
        tree (twice, to catch workers a pool forked meanwhile), reap our own children."""
        spare = set([_resource_tracker_pid()])     # it unlinks named semaphores, then exits
        killed = set()

        def send(pid, signum):
            if pid not in spare:
                try:
                    os.kill(pid, signum)
                    return True
                except OSError:
                    pass
            return False

        for pid in children(self.pid):
            send(pid, signal.SIGSTOP)
        for _ in range(2):
            descendants(self.pid, visit=lambda pid: send(pid, signal.SIGKILL) and killed.add(pid))
        # reap our own children so they do not linger as zombies of a dying parent
        pending = killed & set(children(self.pid))
        deadline = time.time() + 1.0
        while pending and time.time() < deadline:
            for pid in list(pending):
                try:
                    done = os.waitpid(pid, os.WNOHANG)[0]
                except OSError:         # ECHILD: already reaped (e.g. by a Process.join)
                    done = pid
                if done:
                    pending.discard(pid)
            time.sleep(0.005)


def _noop_handler(signum, frame):
    pass


def _resource_tracker_pid():
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    return getattr(getattr(tracker, "_resource_tracker", None), "_pid", None)


def _remove_mp_tempdir():
    # os._exit skips multiprocessing's finalizers; its /tmp/pymp-* dir (manager and forkserver
    # sockets) would be left behind
    proc = multiprocessing.current_process()
    tempdir = getattr(proc, "_config", {}).get("tempdir") or getattr(proc, "_tempdir", None)
    if tempdir:
        shutil.rmtree(tempdir, ignore_errors=True)


def spin_chunk(size=20000):
    """One small CPU-bound chunk (pure Python, holds the GIL)."""
    total = 0
    for i in range(size):
        total += i * i % 7
    return total
