"""capture.holders: the source evidence that a thread could hold a plain Lock."""

from __future__ import annotations

from pooltui.capture.holders import _evidence
from pooltui.model import Frame

SOURCE = """\
import threading
LOCK = threading.Lock()

def flush():
    LOCK.acquire()
    write()
    sleep()              # line 7

def flush_done():
    LOCK.acquire()
    LOCK.release()
    sleep()              # line 12

def mentions():
    log("LOCK.acquire() is slow")
    sleep()              # line 16

class Cache:
    def refresh(self):
        with self.lock:
            if ok:
                fetch()  # line 22

def other():
    sleep()              # line 25

def keyed():
    with LOCKS["db"]:
        LOCKS['cache'].acquire()
        sleep()          # line 30
""".splitlines()


def at(line: int) -> Frame:
    return Frame("f", "/app/mod.py", line, short_file="mod.py")


def test_past_acquire_in_the_same_function():
    assert _evidence(SOURCE, at(7), "LOCK") == "past LOCK.acquire() at mod.py:5"


def test_released_since_is_no_evidence():
    assert _evidence(SOURCE, at(12), "LOCK") is None


def test_a_string_mentioning_acquire_is_no_evidence():
    assert _evidence(SOURCE, at(16), "LOCK") is None


def test_inside_an_enclosing_with_block():
    assert _evidence(SOURCE, at(22), "lock") == "inside `with self.lock:` at mod.py:20"


def test_nothing_above_the_function_counts():
    assert _evidence(SOURCE, at(25), "LOCK") is None
    assert _evidence(SOURCE, at(25), "lock") is None
    assert _evidence(SOURCE, at(999), "LOCK") is None


def test_a_subscripted_name_must_match_its_key():
    assert _evidence(SOURCE, at(30), "LOCKS['cache']") == "past LOCKS['cache'].acquire() at mod.py:29"
    assert _evidence(SOURCE, at(30), "LOCKS['db']") == 'inside `with LOCKS["db"]:` at mod.py:28'
    assert _evidence(SOURCE, at(30), "LOCKS['other']") is None


MODULE = """\
import threading
sem = threading.Semaphore(1)
def leaker():
    sem.acquire()        # run by a thread that exited, not by the module's frame
t = threading.Thread(target=leaker)
if ready:
    sem.acquire()        # line 7: run by the module's frame
wait()                   # line 8
""".splitlines()


def test_an_acquire_in_a_nested_def_is_not_the_frame_s_own():
    assert _evidence([*MODULE[:6], "wait()"], at(7), "sem") is None  # only the def's acquire above
    assert _evidence(MODULE, at(8), "sem") == "past sem.acquire() at mod.py:7"  # a block's acquire was run
