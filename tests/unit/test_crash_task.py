"""The task a dead pool worker ran, from its stack (``capture.crashtask.describe_task``): the
frame just inside multiprocessing.pool's ``worker`` (past a map's ``mapstar``), its
arguments bounded and escaped; none when the worker sat between tasks."""

from __future__ import annotations

from pooltui.capture import redact
from pooltui.capture.crashtask import MAX_ARGS, describe_task
from pooltui.model import Frame, Local

POOL = "/usr/lib/python3.11/multiprocessing/pool.py"


def _worker(job: str = "7", i: str = "2") -> Frame:
    return Frame("worker", POOL, 125, locals=(Local("inqueue", "<SimpleQueue at 0x1>", arg=True), Local("job", job), Local("i", i)))


def test_the_function_inside_worker_past_mapstar_is_the_task_with_its_arguments():
    called = Frame("parse", "/srv/app.py", 8, short_file="app.py", locals=(Local("row", "3", arg=True), Local("tmp", "[]")))
    frames = [Frame("string_at", "/usr/lib/python3.11/ctypes/__init__.py", 519), called, Frame("mapstar", POOL, 48), _worker()]
    assert describe_task(frames) == "parse(row=3) at app.py:8 (job 7, item 2)"


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
    text = describe_task([wide, _worker(job="?", i="<int at 0x5>")])
    assert text is not None and len(text) <= 400 and "x" * 81 not in text
    hostile = Frame("f", "/srv/app.py", 1, locals=(Local("label", '"\x1b[2J\u202e"', arg=True), Local("api_key", '"sk-1"', arg=True)))
    (redacted,) = redact.redact_threads([_thread(hostile)])
    text = describe_task([redacted.frames[0], _worker()])
    assert text == 'f(label="\\x1b[2J\\u202e", api_key=<redacted>) at /srv/app.py:1 (job 7, item 2)'


def _thread(frame: Frame):  # type: ignore[no-untyped-def]
    from pooltui.model import Thread

    return Thread(tid=1, ident=1, frames=(frame, _worker()))
