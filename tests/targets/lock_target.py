"""Ground-truth target for tests/live/test_memory.py (runs on Python 2.7 and 3.6+).

    python lock_target.py --ready FIFO

Sets up, in one process, locks held and waited on in known places, waits until every
waiter thread sleeps in the kernel on its lock (its /proc/self/task/TID/syscall shows
the same futex wait three times in a row, with the GIL released in between), then writes
one JSON line of truth (object ids, thread idents and native tids, type basicsizes) to
FIFO and sleeps forever. Also forks a child that blocks forever on an RLock that a
thread of the parent holds (an orphaned lock): its pid is in the truth.

Truth comes from the target itself (id(), get_ident(), gettid, __basicsize__), never
from the memory layouts the reader under test uses.
"""

from __future__ import print_function

import json
import os
import sys
import threading
import time
import warnings

import multiprocessing

PY2 = sys.version_info[0] == 2
if PY2:
    import thread as _thread  # noqa: F401

    get_ident = _thread.get_ident
else:
    get_ident = threading.get_ident

warnings.simplefilter("ignore")  # 3.12+: DeprecationWarning for fork() with threads

THREADS = {}  # name -> {"ident": .., "tid": ..}


def native_tid():
    f = getattr(threading, "get_native_id", None)
    if f is not None:
        return f()
    import ctypes

    return ctypes.CDLL(None, use_errno=True).syscall(186)  # gettid, x86-64


def register(name):
    THREADS[name] = {"ident": get_ident(), "tid": native_tid()}


def forever():
    while True:
        time.sleep(3600)


def fail(msg):
    sys.stderr.write("lock_target: %s\n" % msg)
    sys.stderr.flush()
    os._exit(3)


# ---------------------------------------------------------------- objects


class Guarded(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.plain = threading.Lock()

    def work(self):
        register("waiter_rlock")
        with self.lock:
            pass

    def work_plain(self):
        register("waiter_plain")
        with self.plain:
            pass


class B(object):
    def __init__(self):
        self.lock = threading.Lock()


class A(object):
    def __init__(self):
        self.b = B()


class Root(object):
    def __init__(self):
        self.name = "root"
        self.a = A()

    def work_nested(self):
        register("waiter_nested")
        with self.a.b.lock:
            pass


class Slotted(object):
    __slots__ = ("before", "lock")

    def __init__(self):
        self.before = 1
        self.lock = threading.RLock()


class SlotsAndDict(object):
    __slots__ = ("s_lock", "__dict__")

    def __init__(self):
        self.s_lock = threading.Lock()
        self.d_lock = threading.Lock()


class Many(object):
    def __init__(self):
        for i in range(45):
            setattr(self, "attr_%02d" % i, i)
        self.lock = threading.Lock()


class Mat(object):
    def __init__(self):
        self.x = 1
        self.lock = threading.RLock()


class Rep(object):
    pass


class Old:  # an old-style class on 2.7
    pass


class Forky(object):
    def __init__(self):
        self.lock = threading.RLock()

    def work(self):
        with self.lock:
            pass


class Item(object):
    def __init__(self):
        self.lock = threading.Lock()


class Wide(object):
    def __init__(self):
        self.items = [Item() for _ in range(300)]


class MpUser(object):
    def __init__(self):
        self.ml = multiprocessing.Lock()

    def work(self):
        register("mpwaiter")
        with self.ml:
            pass


g = Guarded()
root = Root()
slotted = Slotted()
both = SlotsAndDict()
many = Many()
mat = Mat()
mat_dict = vars(mat)  # materialize the instance dict
mat.late_lock = threading.Lock()  # an attribute added after materialization
rep = Rep()
rep.__dict__ = {"lock": threading.Lock(), "y": 2}
old = Old()
old.lock = threading.Lock()
forky = Forky()
wide = Wide()
mp = MpUser()
ml = mp.ml
mrl = multiprocessing.RLock()
py_rlock = None if PY2 else threading._PyRLock()
spawn_lock = None
if not PY2:
    spawn_lock = multiprocessing.get_context("spawn").Lock()
cond = threading.Condition()
free_rlock = threading.RLock()
free_lock = threading.Lock()
holder_ready = threading.Event()
mp_ready = threading.Event()
bg_ready = threading.Event()


def holder():
    register("holder")
    g.lock.acquire()
    g.lock.acquire()
    g.plain.acquire()
    root.a.b.lock.acquire()
    slotted.lock.acquire()
    if py_rlock is not None:
        py_rlock.acquire()
        py_rlock.acquire()
    holder_ready.set()
    forever()


WITH_PLAIN = threading.Lock()  # held by "withholder" inside a `with` block
WITH_SEM = threading.BoundedSemaphore(2)  # a Python class: its bound __exit__ is a method object
with_ready = threading.Event()


def withholder():
    register("withholder")
    with WITH_PLAIN:
        with WITH_SEM:
            with_ready.set()
            forever()


def mpholder():
    register("mpholder")
    ml.acquire()
    mrl.acquire()
    mrl.acquire()
    mp_ready.set()
    forever()


def bgholder():
    register("bgholder")
    forky.lock.acquire()
    bg_ready.set()
    forever()


def condwaiter():
    register("condwaiter")
    with cond:
        cond.wait()


def start(target, name):
    t = threading.Thread(target=target, name=name)
    t.daemon = True
    t.start()
    return t


def syscall_line(pid, tid):
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
            return f.read().strip()
    except (IOError, OSError):
        return None


def wait_blocked(pid, tid, what, timeout=30.0):
    """Until the task sleeps in the same futex wait 3 times in a row (GIL released between)."""
    deadline = time.time() + timeout
    last, same = None, 0
    while time.time() < deadline:
        line = syscall_line(pid, tid)
        if line and line.split()[0] == "202":
            same = same + 1 if line == last else 1
            last = line
            if same >= 3:
                return
        else:
            last, same = None, 0
        time.sleep(0.01)
    fail("%s (tid %s) never blocked in futex: %r" % (what, tid, last))


def wait_registered(name, timeout=30.0):
    deadline = time.time() + timeout
    while name not in THREADS:
        if time.time() > deadline:
            fail("thread %s never started" % name)
        time.sleep(0.005)


def type_label(obj):
    text = repr(type(obj))  # "<class '_thread.RLock'>" / "<type 'thread.lock'>"
    return text.split("'")[1]


# a legitimately huge dict (str keys): the reader must read a bounded part of it
BIG_DICT = dict(("key%d" % i, None) for i in range(100000))


def main():
    args = sys.argv[1:]
    if len(args) != 2 or args[0] != "--ready":
        fail("usage: lock_target.py --ready FIFO")
    ready_path = args[1]
    register("MainThread")

    start(holder, "holder")
    start(mpholder, "mpholder")
    start(bgholder, "bgholder")
    start(withholder, "withholder")
    for event, what in ((holder_ready, "holder"), (mp_ready, "mpholder"), (bg_ready, "bgholder"), (with_ready, "withholder")):
        if not event.wait(30):
            fail("%s never took its locks" % what)

    # the orphaned RLock: a thread of the parent holds it while the main thread forks
    child = os.fork()
    if child == 0:
        try:
            forky.work()  # blocks forever: the owner thread does not exist here
        finally:
            os._exit(0)
    wait_blocked(child, child, "fork child")

    start(g.work, "waiter_rlock")
    start(g.work_plain, "waiter_plain")
    start(root.work_nested, "waiter_nested")
    start(mp.work, "mpwaiter")
    start(condwaiter, "condwaiter")
    pid = os.getpid()
    for name in ("waiter_rlock", "waiter_plain", "waiter_nested", "mpwaiter", "condwaiter"):
        wait_registered(name)
        wait_blocked(pid, THREADS[name]["tid"], name)

    with cond:
        waiters = cond._Condition__waiters if PY2 else cond._waiters
        if len(waiters) != 1:
            fail("condition has %d waiters" % len(waiters))
        cond_waiter = waiters[0]
        cond_lock = cond._Condition__lock if PY2 else cond._lock

    ids = {
        "guarded": g,
        "rlock": g.lock,
        "plain": g.plain,
        "root": root,
        "nested_a": root.a,
        "nested_lock": root.a.b.lock,
        "slotted": slotted,
        "slots_lock": slotted.lock,
        "both": both,
        "both_s_lock": both.s_lock,
        "both_d_lock": both.d_lock,
        "many": many,
        "many_lock": many.lock,
        "mat": mat,
        "mat_lock": mat.lock,
        "mat_late_lock": mat.late_lock,
        "rep": rep,
        "rep_lock": rep.lock,
        "old": old,
        "old_lock": old.lock,
        "forky": forky,
        "fork_lock": forky.lock,
        "wide": wide,
        "mp_user": mp,
        "ml": ml,
        "ml_semlock": ml._semlock,
        "mrl": mrl,
        "mrl_semlock": mrl._semlock,
        "cond": cond,
        "cond_lock": cond_lock,
        "cond_waiter": cond_waiter,
        "free_rlock": free_rlock,
        "free_lock": free_lock,
        "int_obj": 12345678,
        "big_dict": BIG_DICT,
        "with_plain": WITH_PLAIN,
        "with_sem": WITH_SEM,
    }
    if py_rlock is not None:
        ids["py_rlock"] = py_rlock
    if spawn_lock is not None:
        ids["spawn_semlock"] = spawn_lock._semlock
    truth = {
        "pid": pid,
        "version": list(sys.version_info[:2]),
        "threads": THREADS,
        "ids": dict((k, id(v)) for k, v in ids.items()),
        "wide_item_locks": [id(item.lock) for item in wide.items],
        "fork_child": child,
        "many_attr_count": len(vars(many)),
        "spawn_name": getattr(spawn_lock._semlock, "name", None) if spawn_lock is not None else None,
        "types": dict(
            (type_label(o), type(o).__basicsize__)
            for o in (g.lock, g.plain, ml._semlock)
        ),
        "waits": {
            "waiter_rlock": "rlock",
            "waiter_plain": "plain",
            "waiter_nested": "nested_lock",
            "mpwaiter": "ml_semlock",
            "condwaiter": "cond_waiter",
        },
    }
    with open(ready_path, "w") as f:
        f.write(json.dumps(truth) + "\n")
    forever()


if __name__ == "__main__":
    main()
