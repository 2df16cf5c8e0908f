"""A 2.7 fork child keeps its parent's thread states ("fork ghosts"), and a thread it starts
later may reuse a ghost's stack and so its pthread ident: py-spy then reports both with that
ident and that OS thread id (seen in a Manager forked from a parent with a control thread:
its new server thread and the parent's thread, both as tid 2294). The first is the live one."""

from pooltui.capture.threads import match_tasks
from pooltui.model import Frame, Thread


def thread(tid: int, ident: int, function: str) -> Thread:
    return Thread(tid=tid, ident=ident, frames=(Frame(function=function, file="x.py", line=1),))


def test_a_later_thread_state_with_a_live_threads_ident_is_a_ghost():
    live = thread(2294, 0x7F0D0951A3B0, "serve_client")
    ghost = thread(2294, 0x7F0D0951A3B0, "_control_loop")
    other = thread(2293, 0x7F0D09000000, "serve_client")
    out = match_tasks(2276, [live, ghost, other], {2276, 2293, 2294})
    assert [(t.tid, t.ghost, t.frames[0].function) for t in out] == [
        (2294, False, "serve_client"),
        (0, True, "_control_loop"),
        (2293, False, "serve_client"),
    ]


def test_distinct_idents_are_left_as_they_are():
    threads = [thread(11, 1, "a"), thread(12, 2, "b")]
    assert match_tasks(10, threads, {10, 11, 12}) == threads
