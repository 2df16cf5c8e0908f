"""Where a holder took a lock, from its own source (capture.holders): aliases, a lock passed
as an argument, trailing comments. The source is a real file read as this process would be."""

from __future__ import annotations

import os

from pooltui.capture import holders
from pooltui.model import Frame, Local, Thread

SOURCE = """import threading, time
def hold(lk):
    with lk:  # the slow part
        time.sleep(3600)
def alias():
    l = ALIASED
    l.acquire()
    time.sleep(3600)
"""


def _thread(path: str, line: int, *local_vars: Local) -> Thread:
    frame = Frame("f", str(path), line, short_file="app.py", locals=tuple(local_vars))
    return Thread(tid=7, ident=7, name="t", frames=(frame,))


def test_a_with_line_is_given_without_its_comment(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(SOURCE)
    assert holders.took_at(os.getpid(), "lk", _thread(path, 4)) == "inside `with lk:` at app.py:3"


def test_an_alias_bound_to_the_lock_is_its_name_there(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(SOURCE)
    thread = _thread(path, 8, Local("l", addr=0x1000))
    assert holders.took_at(os.getpid(), "__main__.ALIASED", thread, addr=0x1000) == "past l.acquire() at app.py:7"
    assert holders.took_at(os.getpid(), "__main__.ALIASED", thread, addr=0x2000) == ""  # l is another object
    assert holders.took_at(os.getpid(), "__main__.ALIASED", thread) == ""  # no address: names only


def test_a_local_of_the_name_bound_to_another_lock_rules_the_frame_out(tmp_path):
    """Two locks passed to one function as `lk`: each frame holds the one its local is."""
    path = tmp_path / "app.py"
    path.write_text(SOURCE)
    assert holders.took_at(os.getpid(), "lk", _thread(path, 4, Local("lk", addr=0x1000)), addr=0x1000).startswith("inside `with lk:`")
    assert holders.took_at(os.getpid(), "lk", _thread(path, 4, Local("lk", addr=0x3000)), addr=0x1000) == ""
