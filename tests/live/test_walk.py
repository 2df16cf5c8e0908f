"""The tree walk lists each process's children from the kernel's own lists
(``/proc/PID/task/TID/children``) instead of psutil's scan of every process on the
machine: the same processes in the same order as psutil's ``children(recursive=True)``,
on a real tree three levels deep whose children were forked by several threads."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from pooltui.capture import procs

pytestmark = pytest.mark.live

# the root forks two children from its main thread and one from another thread; each child
# forks two grandchildren; every process then sleeps. "ready" once all nine exist.
TREE = """
import os, sys, threading, time
def sleeper(depth):
    if depth:
        for _ in range(2):
            if os.fork() == 0:
                sleeper(depth - 1)
    time.sleep(600)
    os._exit(0)
def fork_one():
    if os.fork() == 0:
        sleeper(1)
for _ in range(2):
    fork_one()
t = threading.Thread(target=fork_one)
t.start()
t.join()
print("forked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def tree():
    proc = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"forked\n"
        root = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while len(root.children(recursive=True)) < 9 and time.monotonic() < deadline:  # grandchildren fork on their own
            time.sleep(0.05)
        yield root
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()


def test_descendants_are_psutils_in_psutils_order(tree):
    expected = [p.pid for p in tree.children(recursive=True)]
    assert len(expected) == 9
    assert [p.pid for p in procs.descendants(tree)] == expected
    assert [info.pid for info in procs.walk_tree(tree.pid)] == [tree.pid, *expected]


def test_this_kernel_lists_children_itself():
    assert procs.child_pids(psutil.Process().pid) is not None  # this kernel has the files (else psutil's scan is used)
