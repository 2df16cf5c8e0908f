"""The task a dead pool worker ran, from its stack (``capture.crashtask.describe_task``): the
frame just inside multiprocessing.pool's ``worker`` (past a map's ``mapstar``), its
arguments bounded and escaped; none when the worker sat between tasks."""

from __future__ import annotations

from pooltui.capture import redact
from pooltui.capture.crashtask import MAX_ARGS, describe_task
from pooltui.model import Frame, Local

POOL = "/usr/lib/python3.11/multiprocessing/pool.py"


def _worker(job: str = "7", i: str = "2") -> Frame:
    task = (Local("task", "?"), Local("job", job), Local("i", i))  # bound once worker() took a task
    return Frame("worker", POOL, 125, short_file="pool.py", locals=(Local("inqueue", "<SimpleQueue at 0x1>", arg=True), *task))


def test_the_function_inside_worker_past_mapstar_is_the_task_with_its_arguments():
    called = Frame("parse", "/srv/app.py", 8, short_file="app.py", locals=(Local("row", "3", arg=True), Local("tmp", "[]")))
    frames = [Frame("string_at", "/usr/lib/python3.11/ctypes/__init__.py", 519), called, Frame("mapstar", POOL, 48), _worker()]
    running = describe_task(frames)
    assert running is not None and running.text == "parse(row=3) at app.py:8 (job 7, item 2)" and not running.initializer
    assert running.evidence == "the task it was running (from its core): parse(row=3) at app.py:8 (job 7, item 2)"


def test_a_worker_waiting_for_its_next_task_ran_none():
    frames = [
        Frame("_recv", "/usr/lib/python3.11/multiprocessing/connection.py", 384),
        Frame("get", "/usr/lib/python3.11/multiprocessing/queues.py", 367),
        _worker(),
    ]
    assert describe_task(frames) is None
    assert describe_task([Frame("main", "/srv/app.py", 3)]) is None


def test_arguments_are_bounded_escaped_and_redacted_when_the_caller_redacts():
    args = tuple(Local(f"a{n}", "x" * 500, arg=True) for n in range(MAX_ARGS + 3))
    wide = Frame("f", "/srv/app.py", 1, locals=args)
    running = describe_task([wide, _worker(job="?", i="<int at 0x5>")])
    assert running is not None and len(running.text) <= 400 and "x" * 81 not in running.text
    hostile = Frame("f", "/srv/app.py", 1, locals=(Local("label", '"\x1b[2J\u202e"', arg=True), Local("api_key", '"sk-1"', arg=True)))
    (redacted,) = redact.redact_threads([_thread(hostile)])
    running = describe_task([redacted.frames[0], _worker()])
    assert running is not None and running.text == 'f(label="\\x1b[2J\\u202e", api_key=<redacted>) at /srv/app.py:1 (job 7, item 2)'


def test_the_pools_initializer_and_a_builtin_task_are_told_apart():
    """worker() binds ``task`` only once it took one (recorded from 3.11 cores: an initializer
    that crashed; a task that was os.abort, a builtin with no Python frame)."""
    init = Frame("init", "/srv/app.py", 5, locals=(Local("flag", '"crash"', arg=True),))
    before = Frame("worker", POOL, 109, locals=(Local("inqueue", "<SimpleQueue at 0x1>", arg=True), Local("put", "< at 0x2>")))
    running = describe_task([init, before])
    assert running is not None and running.initializer and running.text == 'init(flag="crash") at /srv/app.py:5'
    assert running.evidence.startswith("it died in the pool's initializer, before any task (from its core): init(")
    assert running.words == 'in the pool\'s initializer init(flag="crash") at /srv/app.py:5'
    builtin = describe_task([_worker(job="0", i="0")])
    assert builtin is not None and not builtin.initializer
    assert builtin.text == "a function with no Python frame (a builtin or a C extension's), called by worker() at pool.py:125 (job 0, item 0)"


def _thread(frame: Frame):  # type: ignore[no-untyped-def]
    from pooltui.model import Thread

    return Thread(tid=1, ident=1, frames=(frame, _worker()))
