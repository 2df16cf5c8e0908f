"""What a person expects pooltui to show for each demo scenario, checked against the
scenario's own ground truth (its readiness JSON). Used by the live tests (real pool,
real py-spy) and by the unit tests over fixtures recorded from those same runs."""

from __future__ import annotations

import os

from pooltui.analysis.waits import process_state
from pooltui.model import HOW_INFERRED, HOW_WITH, Lock, Process, Severity, Snapshot, Thread, Wait, WaitKind

LOCK_KINDS = (WaitKind.LOCK, WaitKind.RLOCK, WaitKind.SEMLOCK)


def proc(s: Snapshot, pid: int) -> Process:
    p = s.process(pid)
    assert p is not None, f"pid {pid} missing from the snapshot: {[q.pid for q in s.processes]}"
    return p


def live_threads(p: Process) -> list[Thread]:
    return [t for t in p.threads if not t.ghost]


def main_thread(p: Process) -> Thread:
    t = p.thread(p.pid)
    assert t is not None, f"pid {p.pid}: no main thread among {[(x.tid, x.name) for x in p.threads]}"
    return t


def thread_named(s: Snapshot, pid: int, name: str, tid: int) -> Thread:
    """By name on 3.x; by tid where names are not readable (2.7)."""
    p = proc(s, pid)
    t = p.thread(tid)
    assert t is not None, f"pid {pid}: thread {name} (tid {tid}) missing"
    if t.name is not None:
        assert t.name == name
    return t


def diagnoses(s: Snapshot, kind: str):
    return [d for d in s.diagnoses if d.kind == kind]


def errors(s: Snapshot):
    return [d for d in s.diagnoses if d.severity is Severity.ERROR]


def assert_pool_parent(s: Snapshot, pid: int) -> None:
    p = proc(s, pid)
    assert p.role == "pool parent", p.role
    roles = {t.role for t in p.threads}
    assert {"worker handler", "task handler", "result handler"} <= roles, roles
    assert main_thread(p).wait.kind is WaitKind.CONDITION
    assert "pool results" in main_thread(p).wait.summary


def assert_workers(s: Snapshot, pids) -> None:
    indexes = []
    for pid in pids:
        p = proc(s, pid)
        assert p.role == "pool worker", (pid, p.role)
        indexes.append(p.role_index)
    assert all(i is not None and i >= 1 for i in indexes), indexes


def check_healthy(s: Snapshot, truth: dict, version: str) -> None:
    assert_pool_parent(s, s.root_pid)
    assert_workers(s, truth["worker_pids"])
    for pid in truth["idle_pids"]:
        t = main_thread(proc(s, pid))
        assert t.wait.kind is WaitKind.IDLE, (pid, t.wait)
        assert "next task" in t.wait.summary
    for pid in truth["busy_pids"]:
        assert main_thread(proc(s, pid)).wait.kind is not WaitKind.IDLE
    assert not errors(s), errors(s)
    assert not [d for d in s.diagnoses if d.kind.startswith("lock")], s.diagnoses


def check_logging_fork(s: Snapshot, truth: dict, version: str) -> None:
    assert_pool_parent(s, truth["parent_pid"])
    assert_workers(s, truth["worker_pids"])
    holder = truth["holder"]
    for pid in truth["worker_pids"]:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.RLOCK, (pid, w)
        assert "BufferingHandler.flush_lock" in w.summary, w.summary
        assert "does not exist in this process" in w.summary
        lock = next(lock for lock in s.locks if lock.id == w.lock_id)
        assert lock.orphaned and lock.owner_ident == holder["ident"]
    [orphan] = diagnoses(s, "orphaned_lock")
    assert orphan.severity is Severity.ERROR
    assert set(orphan.pids) == set(truth["worker_pids"])
    who = f"'{holder['name']}'" if version != "2.7" else f"thread {holder['tid']}"
    assert f"{who} in the parent pid {truth['parent_pid']}" in orphan.summary, orphan.summary


def check_contention(s: Snapshot, truth: dict, version: str) -> None:
    assert_workers(s, truth["worker_pids"])
    for pid in truth["waiter_pids"]:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.SEMLOCK, (pid, w)
        assert w.summary.startswith("waits on __main__.LEDGER_LOCK (multiprocessing lock) held by"), w.summary  # module.NAME
        assert f"(pid {truth['holder']['pid']})" in w.summary
    [d] = diagnoses(s, "lock_contention")
    assert truth["holder"]["pid"] in d.pids
    assert not errors(s)


def check_killed_worker(s: Snapshot, truth: dict, version: str) -> None:
    assert s.process(truth["killed_pid"]) is None or s.process(truth["killed_pid"]).status in ("zombie", "gone")
    assert_workers(s, truth["worker_pids"])
    assert proc(s, truth["replacement_pid"]).role == "pool worker"
    assert_pool_parent(s, s.root_pid)


def check_manager_gone(s: Snapshot, truth: dict, version: str) -> None:
    manager = s.process(truth["manager_pid"])
    assert manager is None or manager.status in ("zombie", "gone") or manager.error is not None
    assert_workers(s, truth["worker_pids"])
    assert [p for p in s.processes if p.role == "manager server"] == []


def check_abba(s: Snapshot, truth: dict, version: str) -> None:
    [d] = diagnoses(s, "deadlock_cycle")
    assert d.severity is Severity.ERROR
    threads = truth["threads"]
    assert set(d.tids) == {t["tid"] for t in threads.values()}
    text = " ".join(d.evidence)
    for name in truth["locks"]:
        assert name in text, (name, text)
    for t in threads.values():
        w = thread_named(s, s.root_pid, t["name"], t["tid"]).wait
        assert w.kind is WaitKind.RLOCK and t["waits_for"] in w.summary, w.summary
        assert t["wait_site"]["function"] in w.summary and str(t["wait_site"]["line"]) in w.summary
        if "hold_site" in t:  # the line where its holder took the lock it waits for (its own source)
            other = next(o for o in threads.values() if o["holds"] == t["waits_for"])
            site = other["hold_site"]
            assert f"inside `{site['code']}` at demo/{os.path.basename(site['file'])}:{site['line']}" in w.summary, w.summary


def check_executor(s: Snapshot, truth: dict, version: str) -> None:
    for pid in truth["worker_pids"]:
        assert proc(s, pid).role == "executor worker", (pid, proc(s, pid).role)
    if truth.get("forkserver_pid"):
        assert proc(s, truth["forkserver_pid"]).role == "forkserver"
    if truth.get("resource_tracker_pid"):
        assert proc(s, truth["resource_tracker_pid"]).role == "resource tracker"
    root = proc(s, s.root_pid)
    assert root.role == "executor parent"
    assert "executor manager" in {t.role for t in root.threads}
    assert not errors(s)


def check_oversubscribed(s: Snapshot, truth: dict, version: str) -> None:
    assert_workers(s, truth["worker_pids"])
    running = [pid for pid in truth["worker_pids"] if main_thread(proc(s, pid)).wait.kind is WaitKind.RUNNING]
    if len(running) > (s.cpu_count or 0):
        [d] = diagnoses(s, "oversubscribed")
        assert str(s.cpu_count) in d.summary
    else:  # py-spy saw some spinners off-CPU at that instant: then no verdict is right
        assert not diagnoses(s, "oversubscribed")
    assert not errors(s)


def check_mp_abba(s: Snapshot, truth: dict, version: str) -> None:
    """Under fork, spawn and forkserver alike: each process waits on the lock the other
    holds (named, holder pid and thread), at its `with` line; one cross-process cycle."""
    [d] = diagnoses(s, "deadlock_cycle")
    assert d.severity is Severity.ERROR
    pids = {p["pid"] for p in truth["processes"].values()}
    assert pids <= set(d.pids) <= pids | {s.root_pid}  # the root joins them: blocked behind the cycle
    assert set(d.tids) >= pids and "processes" in d.summary
    by_lock = {p["holds"]: p for p in truth["processes"].values()}
    for p in truth["processes"].values():
        t = main_thread(proc(s, p["pid"]))
        w = t.wait
        assert w.kind is WaitKind.SEMLOCK and p["waits_for"] in w.summary, w.summary
        holder = by_lock[p["waits_for"]]
        assert f"(pid {holder['pid']})" in w.summary, w.summary
        [lock] = [lock for lock in s.locks if lock.id == w.lock_id]
        assert lock.name == p["waits_for"]
        assert (lock.holder.pid, lock.holder.tid, lock.holder.ident) == (holder["pid"], holder["pid"], holder["ident"])
        site = p["wait_site"]
        assert t.frames[w.frame_index].line == site["line"] and t.frames[w.frame_index].file == site["file"]
        assert any(f"{site['function']} (" in e and f":{site['line']})" in e for e in d.evidence), d.evidence


def check_mp_semaphore(s: Snapshot, truth: dict, version: str) -> None:
    """A BoundedSemaphore(2) held by two workers: every waiter names it a semaphore with its
    value and BOTH holders (pid and thread); a contention warning, no error, no cycle."""
    assert_workers(s, truth["worker_pids"])
    holders = {(h["pid"], h["ident"]) for h in truth["holders"]}
    for waiter in truth["waiters"]:
        w = main_thread(proc(s, waiter["pid"])).wait
        assert w.kind is WaitKind.SEMLOCK, w
        assert w.summary.startswith("waits on __main__.RENDER_SLOTS (multiprocessing BoundedSemaphore, 0 of 2 free) held by"), w.summary
        assert all(f"(pid {pid})" in w.summary for pid, _ in holders), w.summary
        assert w.summary.endswith(f"in render_thumbnail, demo/mp_semaphore.py:{truth['wait_site']['line']}"), w.summary
        [lock] = [lock for lock in s.locks if lock.id == w.lock_id]
        assert {(h.pid, h.ident) for h in lock.holders} == holders
        assert {h.tid for h in lock.holders} == {pid for pid, _ in holders}  # each worker's main thread
        assert lock.maxvalue == 2 and lock.sem_value == 0
        # a recorded owner (count, last_tid) with the line where it took the slot, from its source
        took = f"inside `with RENDER_SLOTS:` at demo/mp_semaphore.py:{truth['wait_site']['line']}"
        assert all(h.evidence == took for h in lock.holders), lock.holders
    for pid, _ in holders:
        t = main_thread(proc(s, pid))
        assert t.wait.kind is WaitKind.SLEEP and t.frames[t.wait.frame_index].line == truth["hold_site"]["line"], t.wait
    [d] = diagnoses(s, "lock_contention")
    assert d.severity is Severity.WARNING and "BoundedSemaphore" in d.summary
    assert {pid for pid, _ in holders} <= set(d.pids)
    assert not errors(s) and not diagnoses(s, "deadlock_cycle")


def check_manager_lock(s: Snapshot, truth: dict, version: str) -> None:
    """A Manager Lock taken through its proxy by a task that ended: each waiting client
    "waits on the Manager's Lock <id> (pid M)" held by the holder worker; the Manager's
    server threads are waiters, not idle; one error (abandoned_lock), the holder named."""
    manager, holder = truth["manager_pid"], truth["holder"]
    name = f"the Manager's Lock {truth['lock_id']}"
    [lock] = [lock for lock in s.locks if lock.manager is not None]
    assert lock.name == name and lock.pid == manager
    assert (lock.holder.pid, lock.holder.tid) == (holder["pid"], holder["pid"]), lock.holder
    for waiter in truth["waiters"]:
        t = main_thread(proc(s, waiter["pid"]))
        assert t.wait.kind is WaitKind.LOCK and t.wait.lock_id == lock.id, t.wait
        assert t.wait.summary.startswith(f"waits on {name} (pid {manager}) held by "), t.wait.summary
        assert f"(pid {holder['pid']})" in t.wait.summary
        assert t.frames[t.wait.frame_index].line == truth["wait_site"]["line"], t.wait
    servers = [t for t in proc(s, manager).threads if t.tid in truth["server_tids"]]
    assert len(servers) == len(truth["waiters"])
    for t in servers:
        assert t.wait.kind is WaitKind.LOCK and t.wait.summary.startswith("runs the acquire() of "), t.wait
        if version != "2.7":  # py-spy shows 2.7 thread names as None
            assert t.name in {w["name"] for w in truth["waiters"]}
    assert main_thread(proc(s, holder["pid"])).wait.kind is WaitKind.IDLE
    [d] = diagnoses(s, "abandoned_lock")
    assert d.severity is Severity.ERROR and holder["pid"] in d.pids and manager in d.pids, d
    assert "task ended" in d.summary, d.summary
    assert not diagnoses(s, "lock_contention")


def check_manager_lock_with(s: Snapshot, truth: dict, version: str) -> None:
    """manager_lock --hold with: the holder hangs inside `with REPORT_LOCK:`. The Manager names
    the holder client; its thread and the line where it took the lock come from its source,
    spelled as the waiting clients spell the proxy. Contention (warning), never an error."""
    manager, holder = truth["manager_pid"], truth["holder"]
    took = f"inside `with REPORT_LOCK:` at demo/manager_lock.py:{truth['with_site']['line']}"
    [lock] = [lock for lock in s.locks if lock.manager is not None]
    assert (lock.holder.pid, lock.holder.tid, lock.holder.evidence) == (holder["pid"], holder["pid"], took), lock.holder
    for waiter in truth["waiters"]:
        t = main_thread(proc(s, waiter["pid"]))
        assert t.wait.kind is WaitKind.LOCK and t.wait.lock_id == lock.id, t.wait
        assert t.wait.summary.startswith(f"waits on the Manager's Lock {truth['lock_id']} (pid {manager}) held by "), t.wait.summary
        assert f"(pid {holder['pid']}), {took} in write_report" in t.wait.summary, t.wait.summary
    [d] = diagnoses(s, "lock_contention")
    assert d.severity is Severity.WARNING and holder["pid"] in d.pids, d
    assert not errors(s) and not diagnoses(s, "abandoned_lock") and not diagnoses(s, "deadlock_cycle")


def check_manager_lock_killed(s: Snapshot, truth: dict, version: str) -> None:
    """manager_lock --hold killed: the holder's worker was SIGKILLed inside `with REPORT_LOCK:`;
    its connection and its Manager thread are gone, the lock stays taken. Every waiting client
    waits on the Manager's Lock (no holder named); one error: it can never be released."""
    manager, killed = truth["manager_pid"], truth["holder"]["pid"]
    [lock] = [lock for lock in s.locks if lock.manager is not None]
    assert lock.holder is None and not lock.holders and lock.confirmed is True, lock
    assert killed not in {c.pid for c in lock.manager.clients}
    for waiter in truth["waiters"]:
        t = main_thread(proc(s, waiter["pid"]))
        assert t.wait.kind is WaitKind.LOCK and t.wait.lock_id == lock.id, t.wait
        assert t.wait.summary.startswith(f"waits on the Manager's Lock {truth['lock_id']} (pid {manager}): holder "), t.wait.summary
    [d] = diagnoses(s, "abandoned_lock")
    assert d.severity is Severity.ERROR and manager in d.pids and "the one that took it is gone" in d.summary, d
    assert {w["pid"] for w in truth["waiters"]} <= set(d.pids), d
    assert not diagnoses(s, "lock_contention") and not diagnoses(s, "deadlock_cycle")


def check_asyncio_blocked(s: Snapshot, truth: dict, version: str) -> None:
    """The loop thread blocked by `with CACHE_LOCK:` in a coroutine: never "idle asyncio
    event loop"; the lock, its holder thread and line; one blocked_event_loop warning."""
    loop, holder = truth["loop"], truth["holder"]
    t = thread_named(s, s.root_pid, loop["name"], loop["tid"])
    assert t.wait.kind is WaitKind.LOCK, t.wait
    assert t.wait.summary.startswith("the event loop is blocked (in coroutine handle_request): waits on "), t.wait.summary
    assert "CACHE_LOCK" in t.wait.summary and f"'{holder['name']}' (pid {s.root_pid})" in t.wait.summary, t.wait.summary
    assert t.frames[t.wait.frame_index].line == truth["wait_site"]["line"]
    [lock] = [lock for lock in s.locks if lock.id == t.wait.lock_id]
    assert lock.holder is not None and (lock.holder.pid, lock.holder.tid) == (s.root_pid, holder["tid"]), lock.holder
    [d] = diagnoses(s, "blocked_event_loop")
    assert d.severity is Severity.WARNING and "handle_request" in d.summary and "CACHE_LOCK" in d.summary, d
    assert not errors(s)


def check_dead_holder(s: Snapshot, truth: dict, version: str) -> None:
    [d] = diagnoses(s, "dead_holder")
    assert d.severity is Severity.ERROR and d.certainty.value == "fact", d  # read twice: no holder either time
    assert "two reads" in " ".join(d.evidence) and d.subject.startswith("lock ")
    assert set(d.pids) == set(truth["waiter_pids"])
    assert truth["lock"]["name"] in d.summary
    for pid in truth["waiter_pids"]:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.SEMLOCK and "no live process" in w.summary, w.summary


def check_plain_lock(s: Snapshot, truth: dict, version: str) -> None:
    holder = truth["holder"]
    for waiter in truth["waiters"]:
        w = thread_named(s, s.root_pid, waiter["name"], waiter["tid"]).wait
        assert w.kind is WaitKind.LOCK, w
        # a plain Lock records no owner: the holder is the one thread whose frame holds the
        # lock's __exit__ on its value stack (read from memory), with the `with` line
        assert "Cache.lock (Lock) held by " in w.summary, (w.summary, s.notes)
        took = f"inside `with self.lock:` at demo/plain_lock.py:{truth['with_site']['line']})"
        assert f"{_who(holder, version)} (pid {s.root_pid}), held by a with block ({took}" in w.summary, w.summary
        lock = _lock_of(s, w)
        assert (lock.holder.tid, lock.holder.ident, lock.holder.how) == (holder["tid"], holder["ident"], HOW_WITH), lock.holder
    assert not errors(s)


def check_thread_semaphore(s: Snapshot, truth: dict, version: str) -> None:
    """A threading.BoundedSemaphore(2) held in `with` by two threads: every waiter names it
    with its value and both holders; each holder is known from its `with` block (memory),
    with the `with` line; a contention warning, no error, no cycle."""
    holders = {h["tid"]: h for h in truth["holders"]}
    took = f"inside `with Renderer.slots:` at demo/thread_semaphore.py:{truth['with_site']['line']}"
    for waiter in truth["waiters"]:
        w = thread_named(s, s.root_pid, waiter["name"], waiter["tid"]).wait
        assert w.summary.startswith("waits on Renderer.slots (threading.BoundedSemaphore, 0 of 2 free) held by "), (w.summary, s.notes)
        assert w.summary.endswith(f"render, demo/thread_semaphore.py:{truth['with_site']['line']}"), w.summary  # Renderer.render on 3.11+
        lock = _lock_of(s, w)
        assert lock.kind == "semaphore" and lock.addr == int(truth["lock"]["id"], 16) and lock.maxvalue == 2 and lock.sem_value == 0
        assert {(h.pid, h.tid, h.ident) for h in lock.holders} == {(s.root_pid, tid, h["ident"]) for tid, h in holders.items()}, lock.holders
        assert all(h.how == HOW_WITH and h.evidence == took for h in lock.holders), lock.holders
        assert {(s.root_pid, t["tid"]) for t in truth["waiters"]} <= set(lock.waiters)
    [d] = diagnoses(s, "lock_contention")
    assert d.severity is Severity.WARNING and "Renderer.slots" in d.summary
    assert not errors(s) and not diagnoses(s, "deadlock_cycle")


def check_condition(s: Snapshot, truth: dict, version: str) -> None:
    for t in truth["threads"].values():
        w = thread_named(s, s.root_pid, t["name"], t["tid"]).wait
        expected = WaitKind.QUEUE_GET if t["kind"] == "queue" else WaitKind.CONDITION
        assert w.kind is expected, (t["name"], w)
        assert w.lock_id is None
    assert not errors(s)


def check_nested_lock(s: Snapshot, truth: dict, version: str) -> None:
    locks = truth["locks"]
    for t in truth["threads"].values():
        if not t.get("waits_for"):
            continue
        w = thread_named(s, s.root_pid, t["name"], t["tid"]).wait
        assert w.kind in LOCK_KINDS, (t["name"], w)
        lock = locks[t["waits_for"]]
        assert lock["path"].split(" ")[0] in w.summary, (lock, w.summary)  # the name as the user reaches it
        if lock["kind"] == "RLock":
            holder = truth["threads"][lock["holder"]]
            assert f"(pid {s.root_pid})" in w.summary and (holder["name"] in w.summary or version == "2.7"), w.summary


def check_plain_abba(s: Snapshot, truth: dict, version: str) -> None:
    """Two plain Locks in opposite orders: each holder known from its `with` block (memory)."""
    [d] = diagnoses(s, "deadlock_cycle")
    assert d.severity is Severity.ERROR
    threads = truth["threads"]
    assert set(d.tids) == {t["tid"] for t in threads.values()}
    for t in threads.values():
        w = thread_named(s, s.root_pid, t["name"], t["tid"]).wait
        assert w.kind is WaitKind.LOCK and w.summary.startswith(f"waits on {t['waits_for']} (Lock) held by "), w.summary
        holder = threads[truth["locks"][t["waits_for"]]["holder"]]
        lock = _lock_of(s, w)
        assert (lock.holder.tid, lock.holder.ident, lock.holder.how) == (holder["tid"], holder["ident"], HOW_WITH), lock.holder
        short = t["waits_for"].rpartition(".")[2]
        assert f"held by a with block (inside `with {holder['holds'].rpartition('.')[2]}:`" in w.summary, w.summary
        assert str(t["wait_site"]["line"]) in w.summary and short in w.summary


def check_acquire_abba(s: Snapshot, truth: dict, version: str) -> None:
    """Two plain Locks taken with acquire() in opposite orders: no owner recorded, no `with`
    block; each holder inferred from its own source and locals (past `src.acquire()` where its
    `src` is that lock). The two locks are told apart (address) and the cycle is an error."""
    threads = truth["threads"]
    names = set()
    for t in threads.values():
        w = thread_named(s, s.root_pid, t["name"], t["tid"]).wait
        assert w.kind is WaitKind.LOCK, w
        lock = _lock_of(s, w)
        assert lock.addr == int(truth["locks"][t["waits_for"]]["id"], 16), (lock, truth["locks"])
        holder = threads[truth["locks"][t["waits_for"]]["holder"]]
        assert [h.tid for h in lock.could_hold] == [holder["tid"]], lock.could_hold
        names.add(lock.name)
    assert len(names) == 2, names  # two locks, two names
    [d] = diagnoses(s, "deadlock_cycle")
    assert d.severity is Severity.ERROR and set(d.tids) == {t["tid"] for t in threads.values()}, d
    assert all("acquire() at demo/acquire_abba.py:" in e for e in d.evidence[:2]), d.evidence


def check_lonely_wait(s: Snapshot, truth: dict, version: str) -> None:
    """A forked child's only thread waits, without a timeout, on a threading.Event whose
    notifier thread exists only in the parent: no_waker (error), the child named."""
    [d] = diagnoses(s, "no_waker")
    assert d.severity is Severity.ERROR and d.pids == (truth["child_pid"],), d
    assert "of a threading.Event" in d.summary and "no other live thread" in d.summary, d.summary
    assert [x for x in errors(s) if x.kind != "no_waker"] == [], errors(s)


def check_dead_result_handler(s: Snapshot, truth: dict, version: str) -> None:
    """A Pool whose result handler thread died (a raising callback): the parent's map() has
    no waker -- one no_waker error naming the result handler; no worker said dead."""
    [d] = diagnoses(s, "no_waker")
    assert d.severity is Severity.ERROR and d.pids == (truth["parent_pid"],), d
    assert "result handler" in d.summary and "gh-103061" in d.summary, d.summary
    assert not diagnoses(s, "lost_task") and not diagnoses(s, "pool_hung") and not diagnoses(s, "crash_loop")


def _who(thread: dict, version: str) -> str:
    """How a wait line names a thread: by name, by tid on 2.7 (py-spy reads no names there)."""
    return f"thread {thread['tid']}" if version == "2.7" else f"'{thread['name']}'"


def _label(thread: dict, version: str) -> str:
    """How a 'could hold' list names a thread: by name, 'Thread TID' on 2.7."""
    return f"'Thread {thread['tid']}'" if version == "2.7" else f"'{thread['name']}'"


def _lock_of(s: Snapshot, wait: Wait) -> Lock:
    [lock] = [lock for lock in s.locks if lock.id == wait.lock_id]
    return lock


def check_placed_rlock(s: Snapshot, truth: dict, version: str) -> None:
    """closure_lock, class_lock: an RLock that lives in a closure cell / a class's dict, named
    where it lives, its holder named by the recorded owner; two waiters = contention."""
    name = truth["lock"]["name"]
    if version == "2.7" and ".<locals>." in name:  # no __qualname__: the inner function's name
        name = "lookup.<closure>." + name.rpartition(".")[2]
    holder, site = truth["holder"], truth["wait_site"]
    for waiter in truth["waiters"]:
        w = thread_named(s, s.root_pid, waiter["name"], waiter["tid"]).wait
        assert w.kind is WaitKind.RLOCK, w
        expected = f"waits on {name} (RLock) held by {_who(holder, version)} (pid {s.root_pid})"
        assert w.summary.startswith(expected), (expected, w.summary)
        assert w.summary.endswith(f"{site['function']}, demo/{site['file'].rpartition('/')[2]}:{site['line']}"), w.summary
        lock = _lock_of(s, w)
        assert lock.addr == int(truth["lock"]["id"], 16)
        assert (lock.holder.pid, lock.holder.tid, lock.holder.ident) == (s.root_pid, holder["tid"], holder["ident"])
    [d] = diagnoses(s, "lock_contention")
    assert d.severity is Severity.WARNING and name in d.summary, d.summary
    assert not errors(s)


def check_orphan_global(s: Snapshot, truth: dict, version: str) -> None:
    child, holder = truth["child_pid"], truth["holder"]
    w = main_thread(proc(s, child)).wait
    assert w.kind is WaitKind.RLOCK, w
    assert w.summary.startswith(f"waits on {truth['lock']['name']} (RLock) held by thread ident 0x{holder['ident']:x}"), w.summary
    assert w.summary.endswith(f"load_state, demo/orphan_global.py:{truth['wait_site']['line']}"), w.summary
    lock = _lock_of(s, w)
    assert lock.orphaned and lock.owner_ident == holder["ident"] and lock.pid == child
    [orphan] = diagnoses(s, "orphaned_lock")
    assert orphan.severity is Severity.ERROR and set(orphan.pids) == {child}
    assert truth["lock"]["name"] in orphan.summary
    who = f"'{holder['name']}'" if version != "2.7" else f"thread {holder['tid']}"
    assert f"{who} in the parent pid {truth['parent_pid']}" in orphan.summary, orphan.summary


def check_acquire_global(s: Snapshot, truth: dict, version: str) -> None:
    """A plain Lock taken with acquire(): named where it lives; no owner is claimed as fact."""
    site = truth["wait_site"]
    for waiter in truth["waiters"]:
        w = thread_named(s, s.root_pid, waiter["name"], waiter["tid"]).wait
        assert w.kind is WaitKind.LOCK, w
        assert w.summary.startswith(f"waits on {truth['lock']['name']} (Lock): a plain threading.Lock records no owner"), w.summary
        assert w.summary.endswith(f"handle_request, demo/acquire_global.py:{site['line']}"), w.summary
        lock = _lock_of(s, w)
        assert lock.addr == int(truth["lock"]["id"], 16) and lock.holder is None
        # the holder is only inferred, with its evidence: the flusher is past FLUSH_LOCK.acquire()
        holder, hold = truth["holder"], truth["hold_site"]
        evidence = f"past FLUSH_LOCK.acquire() at demo/acquire_global.py:{hold['line']}"
        assert f"could be held by {_label(holder, version)} ({evidence})" in w.summary, w.summary
        [candidate] = lock.could_hold
        assert (candidate.pid, candidate.tid, candidate.ident) == (s.root_pid, holder["tid"], holder["ident"])
        assert candidate.how == HOW_INFERRED and candidate.evidence == evidence
    assert not errors(s)


def check_fork_queue_lock(s: Snapshot, truth: dict, version: str) -> None:
    """A plain Lock (a QueueHandler's queue mutex) inherited locked across fork(): the child's
    only thread waits on it, so nobody can release it -- an error, though no owner is recorded."""
    child = truth["child_pid"]
    w = main_thread(proc(s, child)).wait
    assert w.kind is WaitKind.LOCK and w.summary.startswith("waits on ") and ".mutex (Lock)" in w.summary, w
    lock = _lock_of(s, w)
    assert lock.addr == int(truth["lock"]["id"], 16) and lock.pid == child and lock.holder is None
    [d] = diagnoses(s, "orphaned_lock")
    assert d.severity is Severity.ERROR and d.pids == (child,) and d.tids == (child,), d
    assert "no thread there can release it" in d.summary and "inherited locked across fork()" in d.summary, d.summary
    assert f"forked from pid {truth['parent_pid']} without exec" in " ".join(d.evidence), d.evidence
    assert [e.kind for e in errors(s)] == [d.kind], errors(s)


def check_plain_reentry(s: Snapshot, truth: dict, version: str) -> None:
    """A thread re-entering a plain Lock it holds (its outer frame is inside `with` of it): a
    deadlock on itself, from the with-block count, though the lock records no owner."""
    reloader = truth["reloader"]
    w = thread_named(s, s.root_pid, reloader["name"], reloader["tid"]).wait
    assert w.kind is WaitKind.LOCK and w.summary.startswith(f"waits on {truth['lock']['name']} (Lock)"), w
    lock = _lock_of(s, w)
    assert lock.addr == int(truth["lock"]["id"], 16) and lock.holder is None
    [d] = errors(s)
    assert d.kind == "deadlock_cycle" and d.tids == (reloader["tid"],) and d.pids == (s.root_pid,), d
    assert "which it holds itself" in d.summary and f"reload_config (demo/plain_reentry.py:{truth['hold_site']['line'] + 2}" in d.summary, d.summary
    assert "also blocked behind it" in " ".join(d.evidence), d.evidence


def check_asyncio_executor(s: Snapshot, truth: dict, version: str) -> None:
    """A coroutine suspended inside `with` of a threading.Lock while the executor work it awaits
    waits on that lock: the holder is a frame on no thread's stack, the loop idles. A guess."""
    waiter = truth["waiter"]
    w = thread_named(s, s.root_pid, waiter["name"], waiter["tid"]).wait
    assert w.kind is WaitKind.LOCK and w.summary.startswith("waits on ") and "STATS_LOCK (Lock)" in w.summary, w
    lock = _lock_of(s, w)
    assert lock.addr == int(truth["lock"]["id"], 16) and lock.holder is None
    [d] = diagnoses(s, "deadlock_cycle")
    assert d.severity is Severity.WARNING and d.certainty.value == "guess" and d.summary.startswith("Probably a deadlock"), d
    assert set(d.tids) == {waiter["tid"], truth["loop"]["tid"]} and f"by {truth['coroutine']}()" in d.summary, d.summary
    assert not errors(s)


def check_manager_abba(s: Snapshot, truth: dict, version: str) -> None:
    """Two Manager Locks taken in opposite orders: no owner is recorded, so each wait goes to
    the clients connected to the Manager; all of them wait on each other -- a guess."""
    workers = truth["worker_pids"]
    for pid in workers:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.LOCK and w.summary.startswith("waits on the Manager's Lock "), w
    [d] = diagnoses(s, "deadlock_cycle")
    assert d.severity is Severity.WARNING and d.certainty.value == "guess" and d.summary.startswith("Probably a deadlock"), d
    assert set(workers) <= set(d.pids) and "one of the clients connected to it took it" in " ".join(d.evidence), d
    assert not errors(s)


CHECKS = {
    "healthy": check_healthy,
    "thread_semaphore": check_thread_semaphore,
    "logging_fork": check_logging_fork,
    "contention": check_contention,
    "killed_worker": check_killed_worker,
    "manager_gone": check_manager_gone,
    "abba": check_abba,
    "executor": check_executor,
    "oversubscribed": check_oversubscribed,
    "mp_abba": check_mp_abba,
    "mp_semaphore": check_mp_semaphore,
    "manager_lock": check_manager_lock,
    "asyncio_blocked": check_asyncio_blocked,
    "dead_holder": check_dead_holder,
    "plain_lock": check_plain_lock,
    "condition": check_condition,
    "nested_lock": check_nested_lock,
    "global_abba": check_abba,
    "plain_abba": check_plain_abba,
    "acquire_abba": check_acquire_abba,
    "lonely_wait": check_lonely_wait,
    "dead_result_handler": check_dead_result_handler,
    "closure_lock": check_placed_rlock,
    "class_lock": check_placed_rlock,
    "orphan_global": check_orphan_global,
    "acquire_global": check_acquire_global,
    "fork_queue_lock": check_fork_queue_lock,
    "plain_reentry": check_plain_reentry,
    "asyncio_executor": check_asyncio_executor,
    "manager_abba": check_manager_abba,
}


# --- pre-fork frameworks: scenarios that run under an interpreter with the framework installed


def assert_role(s: Snapshot, pids, role: str) -> None:
    for pid in pids:
        p = proc(s, pid)
        assert p.role == role and p.role_index is not None, (pid, p.role, p.role_index)


def assert_lock_wait(s: Snapshot, truth: dict, lock_name: str) -> Thread:
    """The stuck thread waits on ``lock_name`` (an RLock) and pooltui names its holder."""
    stuck, holder = truth["stuck"], truth["holder"]
    t = thread_named(s, stuck["pid"], stuck["name"], stuck["tid"])
    w = t.wait
    assert w.kind is WaitKind.RLOCK, w
    assert f"waits on {lock_name} (RLock) held by '{holder['name']}' (pid {holder['pid']})" in w.summary, w.summary
    assert truth["wait_site"]["function"] in w.summary and f":{truth['wait_site']['line']}" in w.summary, w.summary
    lock = next(lock for lock in s.locks if lock.id == w.lock_id)
    assert lock.holder is not None and (lock.holder.pid, lock.holder.tid) == (holder["pid"], holder["tid"]), lock.holder
    assert process_state(proc(s, stuck["pid"])) == "blocked"
    return t


def check_gunicorn_stuck(s: Snapshot, truth: dict, version: str) -> None:
    arbiter = proc(s, truth["arbiter_pid"])
    assert arbiter.role == "gunicorn arbiter", arbiter.role
    w = main_thread(arbiter).wait
    assert w.kind is WaitKind.IDLE and "arbiter waits for signals" in w.summary, w
    if int(truth["gunicorn"].split(".")[0]) >= 24:  # the control socket server thread is new in 24
        assert "gunicorn control server" in {t.role for t in arbiter.threads}
    assert_role(s, truth["worker_pids"], "gunicorn worker")
    gthread = truth["worker_class"] == "gthread"
    for pid in truth["idle_pids"]:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.IDLE and ("readable sockets" if gthread else "waits for a connection") in w.summary, (pid, w)
        assert process_state(proc(s, pid)) == "idle"
    t = assert_lock_wait(s, truth, "Cache.lock")
    assert t.role == ("gthread request thread" if gthread else "main thread"), t.role
    if gthread:  # its main thread keeps serving the arbiter's heartbeat: idle, not stuck
        assert main_thread(proc(s, truth["stuck"]["pid"])).wait.kind is WaitKind.IDLE
    assert not errors(s), errors(s)


def check_celery_hang(s: Snapshot, truth: dict, version: str) -> None:
    main = proc(s, truth["main_pid"])
    assert main.role == "celery main", main.role
    w = main_thread(main).wait
    assert w.kind is WaitKind.IDLE and "messages from the broker" in w.summary, w
    roles = {t.role for t in main.threads}
    handlers = {"worker handler", "task handler", "timeout handler"} if tuple(map(int, version.split("."))) >= (3, 11) else {"pool thread"}
    assert {"celery timer", "result handler"} | handlers <= roles, roles
    for t in main.threads:
        if t.role in {"celery timer", "result handler"} | handlers:
            assert t.wait.kind is WaitKind.IDLE, (t.name, t.role, t.wait)
    assert_role(s, truth["worker_pids"], "celery pool worker")
    for pid in truth["idle_pids"]:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.IDLE and "next task" in w.summary, (pid, w)
        assert process_state(proc(s, pid)) == "idle"
    assert_lock_wait(s, truth, "Metrics.lock")
    assert not errors(s), errors(s)


def check_joblib_stuck(s: Snapshot, truth: dict, version: str) -> None:
    root = proc(s, s.root_pid)
    assert root.role == "executor parent", root.role
    managers = [t for t in root.threads if t.role == "executor manager"]
    assert managers and all(t.wait.kind is WaitKind.IDLE for t in managers), [(t.role, t.wait) for t in root.threads]
    assert_role(s, truth["worker_pids"], "loky worker")
    for pid in truth["idle_pids"]:
        w = main_thread(proc(s, pid)).wait
        assert w.kind is WaitKind.IDLE and "next task" in w.summary, (pid, w)
    w = main_thread(proc(s, truth["stuck"]["pid"])).wait
    assert w.kind is WaitKind.SLEEP and f"fetch_upstream, demo/joblib_stuck.py:{truth['wait_site']['line']}" in w.summary, w
    assert "resource tracker" in {p.role for p in s.processes}
    assert not errors(s), errors(s)


def check_uwsgi_stuck(s: Snapshot, truth: dict, version: str) -> None:
    master = proc(s, truth["master_pid"])
    assert master.role == "uwsgi master", master.role
    w = main_thread(master).wait  # uWSGI's master loop is C: no Python frame
    assert w.kind is WaitKind.IDLE and "master loop" in w.summary, w
    # not "idle" at every instant: demo-control may still be on a CPU after writing the readiness line
    assert process_state(master) != "blocked", [(t.name, t.wait) for t in master.threads]
    assert_role(s, truth["worker_pids"], "uwsgi worker")
    assert sorted(proc(s, pid).role_index for pid in truth["worker_pids"]) == list(range(1, len(truth["worker_pids"]) + 1))
    poller = truth["holder"]["name"]
    for pid in truth["worker_pids"]:
        p = proc(s, pid)
        assert not [t for t in p.threads if t.ghost], [(t.name, t.tid) for t in p.threads]  # --py-call-uwsgi-fork-hooks
        cores = [t for t in p.threads if t.name != poller]
        assert len(cores) == truth["threads"], [(t.name, t.tid) for t in p.threads]
        for t in cores:
            assert t.role == ("main thread" if t.tid == pid else "uwsgi core"), (pid, t.name, t.role)
            if t.tid != truth["stuck"]["tid"]:  # every core without the request waits in uWSGI's C loop
                assert t.wait.kind is WaitKind.IDLE and "waits for a request" in t.wait.summary, (pid, t.name, t.wait)
    for pid in truth["idle_pids"]:
        assert process_state(proc(s, pid)) == "idle"
    assert_lock_wait(s, truth, "FeatureFlags.lock")
    assert not errors(s), errors(s)


FRAMEWORK_CHECKS = {
    "gunicorn_stuck": check_gunicorn_stuck,
    "celery_hang": check_celery_hang,
    "joblib_stuck": check_joblib_stuck,
    "uwsgi_stuck": check_uwsgi_stuck,
}
