"""import_lock -- a thread blocked in `import`: the module's import lock is held by a thread that cannot finish.

Real-world incidents: (fork) a service imports a plugin lazily in a background thread while
the main thread forks workers; a worker forked mid-import imports the same plugin and blocks
forever on the import system's per-module lock (`importlib._bootstrap._ModuleLock`), whose
owner is the parent's importing thread, which does not exist in the worker. (abba) a module's
top-level code takes an application lock another thread holds while that thread imports the
same module: CPython's import deadlock detection only sees cycles of module locks, so both
wait forever.

(join) a module's top-level code starts a thread and waits for it, and that thread imports
(the module itself, or on Python 2 anything at all: 2.7 has one import lock for every
import, and the standard library imports lazily -- `time.strptime` imports `_strptime`).

What pooltui should show (Python 3.8+ -- and 2.7 for --via join; 2.7 has one global import lock that fork() resets in the child):
* --via fork (default): in the worker, its main thread waits on "the import of module
  _slow_plugin" held by a thread ident that does not exist in the worker: orphaned_lock (error),
  inherited across fork() from the parent's thread "plugin-loader".
* --via abba: thread "plugin-loader" waits on REGISTRY_LOCK (a plain Lock) inside the
  import of _slow_plugin; thread "registrar" holds REGISTRY_LOCK and waits on the import of
  module _slow_plugin held by "plugin-loader": a deadlock_cycle (error) naming both.
* --via join: thread "late-import" waits on the import of module _slow_plugin (2.7: on the
  import lock) held by "plugin-loader", which joins "late-import" from that module's
  top-level code: a deadlock_cycle (error) naming both.
* --healthy (the twin): threads import modules concurrently and finish; a worker forked after
  the imports imports them again: no warning, no error.

Truth: module, lock {name, id, futex (its wakeup lock's sem_t)}, owner {name, ident, tid} (the
importing thread, written by itself from inside the import), waiters [{pid, tid}], and for
abba registry {name, id, futex}.
"""

from __future__ import print_function

import os
import sys
import threading
import types

import _common

MODULE = "_slow_plugin"
REGISTRY_LOCK = threading.Lock()


def _module_lock(name):
    """The import system's lock object for `name` (a weak reference in _module_locks)."""
    import importlib._bootstrap as bootstrap

    ref = bootstrap._module_locks.get(name)
    return ref() if ref is not None else None


def _gate(via, state):
    gate = types.ModuleType("_import_gate")

    def inside():
        _common.register_thread(state)
        state["owner"] = _common.thread_info()
        state["arrived"].set()
        if via == "abba":
            state["registrar_holds"].wait()
            with REGISTRY_LOCK:  # held by the registrar, which waits for this import
                pass
        elif via == "fork":
            threading.Event().wait()  # the import never finishes
        elif via == "join":

            def late():
                _common.register_thread(state)
                __import__(MODULE)  # waits for the import that joins this thread

            t = threading.Thread(target=late, name="late-import")
            t.daemon = True
            t.start()
            t.join()

    gate.inside = inside
    sys.modules["_import_gate"] = gate


def child_import(ready_w):
    os.write(ready_w, ("%d\n" % _common.native_tid()).encode())
    __import__(MODULE)


def main(demo, via):
    if sys.version_info < (3,) and via != "join":
        raise _common.StateNotReached("2.7 has one global import lock, reset in a fork child: no such hang")
    state = {"arrived": threading.Event(), "registrar_holds": threading.Event()}
    _gate(via, state)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    loader = threading.Thread(target=__import__, args=(MODULE,), name="plugin-loader")
    loader.daemon = True
    loader.start()
    if not state["arrived"].wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the plugin's import never started")
    if via == "join":
        _common.wait_until(lambda: "late-import" in state, "the late import to start")
        late = state["late-import"]
        _common.wait_blocked(demo.pid, late["tid"], what="late-import in its import")
        _common.wait_blocked(demo.pid, state["owner"]["tid"], what="plugin-loader joining late-import")
        demo.ready({"module": MODULE, "owner": state["owner"], "via": via, "waiters": [{"pid": demo.pid, "tid": late["tid"]}], "late": late})
        loader.join()
        return
    lock = _module_lock(MODULE)
    facts = {"name": "the import of module " + MODULE, "id": _common.hexaddr(id(lock)), "futex": _common.hexaddr(_common.futex_address(lock.wakeup))}
    truth = {"module": MODULE, "lock": facts, "owner": state["owner"], "via": via}
    if via == "fork":
        ctx = _common.get_context("fork")
        ready_r, ready_w = os.pipe()
        child = ctx.Process(target=child_import, args=(ready_w,), name="plugin-worker")
        child.daemon = True
        child.start()
        tid = int(os.read(ready_r, 64).decode().split()[0])
        _common.wait_blocked(child.pid, tid, int(facts["futex"], 16), what="the worker's import")
        truth["waiters"] = [{"pid": child.pid, "tid": tid}]
        truth["worker_pid"] = child.pid
        demo.ready(truth)
        child.join()
    elif via == "abba":

        def registrar():
            _common.register_thread(state)
            with REGISTRY_LOCK:
                state["registrar_holds"].set()
                __import__(MODULE)  # waits for plugin-loader's import

        t = threading.Thread(target=registrar, name="registrar")
        t.daemon = True
        t.start()

        def verify():
            _common.wait_until(lambda: "registrar" in state, "the registrar to start")
            _common.wait_blocked(demo.pid, state["registrar"]["tid"], int(facts["futex"], 16), what="registrar")
            _common.wait_blocked(demo.pid, state["owner"]["tid"], _common.futex_address(REGISTRY_LOCK), what="plugin-loader")
            truth["waiters"] = [{"pid": demo.pid, "tid": state["registrar"]["tid"]}]
            truth["registrar"] = state["registrar"]
            truth["registry"] = _common.lock_facts(REGISTRY_LOCK, "REGISTRY_LOCK", "lock")
            demo.ready(truth)

        demo.setup_thread(verify)
        t.join()


def import_name(name):
    __import__(name)
    return name


def healthy(demo):
    """Imports in threads, all of which finish; a worker forked after them imports again."""
    names = ["json", "decimal", "fractions", "csv", "difflib", "statistics" if sys.version_info >= (3,) else "StringIO"]
    threads = [threading.Thread(target=__import__, args=(n,), name="importer-%d" % i) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx = _common.get_context("fork")
    pool = ctx.Pool(2)
    pool.map(import_name, names)
    demo.ready({"modules": names, "worker_pids": [p.pid for p in pool._pool]})
    threading.Event().wait()


if __name__ == "__main__":

    def extra(parser):
        parser.add_argument("--via", choices=("fork", "abba", "join"), default="fork")
        parser.add_argument("--healthy", action="store_true", help="the twin: imports in threads that finish")

    args = _common.parse_args("import_lock", __doc__, extra=extra)
    demo = _common.Demo("import_lock", args)
    if args.healthy:
        demo.run(healthy, demo)
    else:
        demo.run(main, demo, args.via)
