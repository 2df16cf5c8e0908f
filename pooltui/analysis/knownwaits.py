"""The waits ``analysis.waits`` knows by name, as data: the "waiting for work" loops of the
stdlib and the frameworks (idle), the stdlib functions, native (C) functions and source
lines that name what a thread waits for. A new library's loop or wait is a row here.
"""

from __future__ import annotations

import re

from pooltui.analysis.roles import UWSGI_MASTER, UWSGI_WORKER
from pooltui.model import WaitKind

# library frames allowed inside a library's loop: (file suffix, functions)
Via = tuple[tuple[str, tuple[str, ...]], ...]
_KOMBU_WAIT: Via = (
    ("kombu/connection.py", ("drain_events",)),
    ("kombu/transport/virtual/base.py", ("drain_events",)),
    ("kombu/asynchronous/hub.py", ("create_loop",)),
    ("kombu/utils/eventio.py", ("poll",)),
)
_ARBITER_WAIT: Via = (("gunicorn/arbiter.py", ("sleep", "wait_for_signals")),)
_BILLIARD_RECV: Via = (
    ("billiard/pool.py", ("receive", "_recv")),
    ("billiard/queues.py", ("get_payload", "get", "_recv")),
    ("billiard/connection.py", ("recv_bytes", "_recv_bytes", "_recv", "recv", "poll", "_poll", "wait")),
    # idle workers queue on the inqueue's read lock while one of them reads the pipe (as in multiprocessing.Pool)
    ("billiard/synchronize.py", ("__enter__", "acquire")),
)
_BILLIARD_POLL: Via = (
    ("billiard/pool.py", ("_process_result", "_poll_result")),
    ("billiard/connection.py", ("poll", "_poll", "wait")),
)

# "waiting for work" loops: (file suffix, functions, what the idle thread waits for, via).
# Inside the loop frame there may only be stdlib and native frames, and of a library's loop
# only its own wait helpers (`via`): a request or task being handled always shows another
# frame (the handler's, the app's -- even an app installed in site-packages), so a busy or
# stuck worker never reads as idle.
IDLE_LOOPS: tuple[tuple[str, tuple[str, ...], str, Via], ...] = (
    ("multiprocessing/pool.py", ("worker",), "idle: waits for its next task", ()),
    ("concurrent/futures/process.py", ("_process_worker",), "idle: waits for its next task", ()),
    ("multiprocessing/pool.py", ("_handle_tasks",), "idle: waits for tasks to hand to workers", ()),
    ("multiprocessing/pool.py", ("_handle_results",), "idle: waits for results from workers", ()),
    ("multiprocessing/pool.py", ("_handle_workers",), "idle: watches the workers (replaces dead ones)", ()),
    ("multiprocessing/queues.py", ("_feed",), "idle: waits for items to send into the queue's pipe", ()),
    ("concurrent/futures/process.py", ("_queue_management_worker", "wait_result_broken_or_wakeup"), "idle: waits for results or broken workers", ()),
    ("concurrent/futures/thread.py", ("_worker",), "idle: waits for its next work item", ()),
    ("multiprocessing/managers.py", ("serve_forever",), "idle: manager server serving", ()),
    ("multiprocessing/managers.py", ("accepter",), "idle: waits for manager connections", ()),
    ("multiprocessing/managers.py", ("serve_client",), "idle: waits for the next request from a manager client", ()),
    ("multiprocessing/resource_tracker.py", ("main",), "idle: waits for resource registrations", ()),
    ("multiprocessing/semaphore_tracker.py", ("main",), "idle: waits for semaphore registrations", ()),
    ("multiprocessing/forkserver.py", ("main",), "idle: waits for fork requests", ()),
    ("loky/process_executor.py", ("_process_worker",), "idle: waits for its next task", ()),
    ("loky/process_executor.py", ("wait_result_broken_or_wakeup",), "idle: waits for results or broken workers", ()),
    ("loky/backend/queues.py", ("_feed",), "idle: waits for items to send into the queue's pipe", ()),
    ("loky/backend/resource_tracker.py", ("main",), "idle: waits for resource registrations", ()),
    # gunicorn < 24 sleeps in select() on its signal pipe, 24+ in a queue.get() of signals
    ("gunicorn/arbiter.py", ("run",), "idle: the arbiter waits for signals and watches its workers", _ARBITER_WAIT),
    ("gunicorn/workers/sync.py", ("run_for_one", "run_for_multiple"), "idle: waits for a connection", (("gunicorn/workers/sync.py", ("wait",)),)),
    ("gunicorn/workers/gthread.py", ("wait_for_and_dispatch_events", "run"), "idle: waits for connections and readable sockets", ()),
    ("gunicorn/ctl/server.py", ("_run_loop",), "idle: waits for control socket commands", ()),
    ("celery/worker/loops.py", ("synloop", "_loop_cycle", "asynloop"), "idle: waits for messages from the broker", _KOMBU_WAIT),
    ("billiard/pool.py", ("workloop",), "idle: waits for its next task", _BILLIARD_RECV),
    # billiard's pool threads: the class is in the frame name on 3.11+ only
    ("billiard/pool.py", ("Supervisor.body",), "idle: watches the workers (replaces dead ones)", ()),
    ("billiard/pool.py", ("TaskHandler.body",), "idle: waits for tasks to hand to workers", ()),
    ("billiard/pool.py", ("TimeoutHandler.body",), "idle: watches task time limits", ()),
    ("billiard/pool.py", ("ResultHandler.body",), "idle: waits for results from workers", _BILLIARD_POLL),
    ("billiard/pool.py", ("body",), "idle: waits for tasks, results, timeouts or dead workers", _BILLIARD_POLL),
    ("celery/utils/timer2.py", ("run",), "idle: waits for its next timed event (heartbeats, ETA tasks)", ()),
)

# the lines of a loop (or of its own frames inside it) that call the task: a thread on one runs
# a task even with no frame of the task's own inside, as when the task is a C function
# (pool.map(time.sleep, ...), zlib.compress, a numpy function): it is not idle
TASK_CALLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("multiprocessing/pool.py", re.compile(r"\bfunc\(\*args")),
    ("concurrent/futures/process.py", re.compile(r"\bcall_item\.fn\(")),
    ("concurrent/futures/thread.py", re.compile(r"\bwork_item\.run\(|\bself\.fn\(")),
    ("loky/process_executor.py", re.compile(r"\bcall_item\(\)|\bself\.fn\(")),
    ("billiard/pool.py", re.compile(r"\bfun\(\*args")),
)

# servers that embed Python in their own C loop: a thread there without a Python frame waits
# in that loop for work (py-spy may even report it active: it does not hold the GIL to tell)
C_SERVER_LOOPS: dict[str, str] = {
    UWSGI_MASTER: "idle: uWSGI's master loop (C code: watches the workers)",
    UWSGI_WORKER: "idle: waits for a request in uWSGI's C loop",
}

# innermost stdlib frames that name the wait: (file suffix, functions, kind, phrase)
STDLIB_WAITS: tuple[tuple[str, tuple[str, ...], WaitKind, str], ...] = (
    ("multiprocessing/managers.py", ("_callmethod", "_connect", "_incref"), WaitKind.MANAGER_CALL, "waits for the Manager server to answer"),
    # a multiprocessing Condition/Event/Barrier waits on semaphores that rest at 0 by design: not a lock
    ("multiprocessing/synchronize.py", ("wait", "wait_for"), WaitKind.CONDITION, "waits on a multiprocessing Condition (for a notify)"),
    ("multiprocessing/synchronize.py", ("__enter__", "acquire"), WaitKind.SEMLOCK, "waits for a multiprocessing lock"),
    ("threading.py", ("_wait_for_tstate_lock", "join"), WaitKind.JOIN, "waits for a thread to finish"),
    ("multiprocessing/process.py", ("join",), WaitKind.JOIN, "waits for a process to finish"),
    ("multiprocessing/popen_fork.py", ("wait", "poll"), WaitKind.JOIN, "waits for a process to finish"),
    ("subprocess.py", ("wait", "communicate", "_wait", "_try_wait"), WaitKind.JOIN, "waits for a subprocess to finish"),
    ("multiprocessing/pool.py", ("get", "wait"), WaitKind.CONDITION, "waits for pool results"),
    ("concurrent/futures/_base.py", ("result", "wait", "as_completed", "__exit__"), WaitKind.CONDITION, "waits for a future's result"),
    ("concurrent/futures/process.py", ("shutdown",), WaitKind.JOIN, "waits for the executor to shut down"),
    ("queue.py", ("get",), WaitKind.QUEUE_GET, "waits on queue.get()"),
    ("Queue.py", ("get",), WaitKind.QUEUE_GET, "waits on queue.get()"),
    ("queue.py", ("put",), WaitKind.QUEUE_PUT, "waits for room in a full queue (put())"),
    ("Queue.py", ("put",), WaitKind.QUEUE_PUT, "waits for room in a full queue (put())"),
    ("multiprocessing/queues.py", ("get",), WaitKind.QUEUE_GET, "waits on a multiprocessing queue get()"),
    ("multiprocessing/queues.py", ("put",), WaitKind.QUEUE_PUT, "waits for room in a full multiprocessing queue (put())"),
    ("threading.py", ("acquire", "__enter__", "_acquire_restore"), WaitKind.RLOCK, "waits for a threading.RLock"),
    ("logging/__init__.py", ("acquire",), WaitKind.RLOCK, "waits for a logging handler's lock"),
    ("threading.py", ("wait",), WaitKind.CONDITION, "waits on a Condition (for a notify)"),
    ("multiprocessing/connection.py", ("wait",), WaitKind.SELECT, "waits on connections (select)"),
    ("multiprocessing/connection.py", ("accept",), WaitKind.SELECT, "waits for a connection"),
    (
        "multiprocessing/connection.py",
        ("_send", "send", "_send_bytes", "send_bytes"),
        WaitKind.PIPE_WRITE,
        "waits to write to a pipe (full: nobody reads the other end)",
    ),
    (
        "multiprocessing/connection.py",
        ("_recv", "recv", "_recv_bytes", "recv_bytes", "poll", "_poll"),
        WaitKind.PIPE_READ,
        "waits to read from a pipe",
    ),
    ("selectors.py", ("select",), WaitKind.SELECT, "waits in select()"),
    ("socket.py", ("accept", "recv", "recv_into", "readinto", "create_connection"), WaitKind.SELECT, "waits on a socket"),
    ("ssl.py", ("read", "recv", "recv_into", "do_handshake"), WaitKind.SELECT, "waits on a socket"),
    ("asyncio/base_events.py", ("_run_once", "run_forever"), WaitKind.SELECT, "idle asyncio event loop"),
)

# native frames (py-spy --native): substrings of the C function name
NATIVE_WAITS: tuple[tuple[tuple[str, ...], WaitKind, str], ...] = (
    (("take_gil", "drop_gil"), WaitKind.GIL, "waits for the GIL"),
    (("rlock_acquire",), WaitKind.RLOCK, "waits for an RLock"),
    (("semlock_acquire", "_multiprocessing_SemLock_acquire"), WaitKind.SEMLOCK, "waits for a multiprocessing lock"),
    (("PyThread_acquire_lock", "lock_PyThread_acquire_lock", "acquire_timed", "lock_acquire"), WaitKind.LOCK, "waits for a lock"),
    (("sem_wait", "sem_timedwait", "sem_clockwait"), WaitKind.LOCK, "waits on a semaphore"),
    (("nanosleep", "pysleep", "time_sleep"), WaitKind.SLEEP, "sleeps"),
    (("select", "poll", "epoll_wait"), WaitKind.SELECT, "waits in select()/poll()"),
    (("__libc_recv", "__libc_read", "recv", "read"), WaitKind.PIPE_READ, "waits to read"),
)

# the source line of the innermost user frame (a C call has no frame of its own)
CODE_WAITS: tuple[tuple[re.Pattern[str], WaitKind, str], ...] = (
    (re.compile(r"^\s*(async\s+)?with\b.*\b(lock|mutex|_lk|sem|semaphore)\w*\b", re.I), WaitKind.LOCK, "waits for a lock"),
    (re.compile(r"\.acquire\("), WaitKind.LOCK, "waits for a lock"),
    (re.compile(r"\bsleep\("), WaitKind.SLEEP, "sleeps"),
    (re.compile(r"\.join\("), WaitKind.JOIN, "waits for a thread or process to finish"),
    (re.compile(r"\.wait\("), WaitKind.EVENT, "waits on an Event or Condition"),
    (re.compile(r"\.get\("), WaitKind.QUEUE_GET, "waits on a get()"),
    (re.compile(r"\b(select|poll|recv|recvfrom|accept|read|readline|urlopen|connect)\("), WaitKind.SELECT, "waits on I/O"),
    (re.compile(r"^\s*(async\s+)?with\b"), WaitKind.LOCK, "waits in a `with` statement (a lock?)"),
)
