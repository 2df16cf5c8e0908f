"""A wait whose waker is outside the tree (a service on this host the task asked, and that
does not answer) is said in words with what is known -- the address, on this host or not --
never silence and never an error (demo/outside_peer.py: the server is adopted by init)."""

from __future__ import annotations

import pytest

from tests.conftest import capture, interpreter_params

pytestmark = pytest.mark.live
VERSIONS = ("2.7", "3.8", "3.11", "3.13")


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("peer", ["tcp", "unix"])
def test_a_wait_on_a_server_outside_the_tree_is_said_with_its_address(peer, python, start_demo):
    from pooltui.model import Severity

    demo = start_demo("outside_peer", python, "--peer", peer)
    truth = demo.truth
    s = capture(demo.pid)
    assert [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO] == []
    assert truth["server_pid"] not in {p.pid for p in s.processes}
    worker = s.process(truth["worker_pid"])
    t = worker.thread(truth["worker_pid"])
    said = t.wait.summary
    if peer == "tcp":
        assert f"waits to read from {truth['address']} (fd {t.fd}), a process on this host outside this tree" in said, said
    else:
        assert f"waits to read from a socket (fd {t.fd}) whose other end is held outside this tree" in said, said


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("healthy", [False, True], ids=["hung", "healthy"])
def test_two_threads_each_reading_what_only_the_other_writes_are_a_deadlock(healthy, python, start_demo):
    """Both ends are the process's own: each thread is blocked reading a pipe whose write end
    only the other one uses -- once its own read ends (the main thread sleeps). The twin
    passes a token back and forth: nothing."""
    from pooltui.model import Certainty, Kind, Severity

    demo = start_demo("own_end", python, "--shape", "crossed", *(["--healthy"] if healthy else []))
    s = capture(demo.pid)
    loud = [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO]
    if healthy:
        assert loud == []
        return
    (d,) = [d for d in s.diagnoses if d.kind is Kind.DEADLOCK]
    truth = demo.truth
    assert d.severity is Severity.ERROR and d.certainty is Certainty.INFERRED and set(d.tids) == {truth["ping"], truth["pong"]}, d
    assert " ".join(d.evidence).count("its other end is held by its own process") == 2 and "Have one side write first" in d.fix, d
    assert len(loud) == 1, loud


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("healthy", [False, True], ids=["hung", "healthy"])
def test_two_threads_reading_one_buffered_file_wait_on_its_own_lock(healthy, python, start_demo):
    """A lock inside a stdlib object: 'first' is blocked in read() of a pipe only its own
    process could write, holding the BufferedReader's own lock; 'second' waits on that lock
    at `lines.readline()` -- asleep in a futex, not in I/O. It read "waits on I/O", with no
    edge: "No problems found". The twin has a writer thread: nothing."""
    from pooltui.model import Certainty, Kind, Severity

    demo = start_demo("own_end", python, "--shape", "shared_file", *(["--healthy"] if healthy else []))
    s = capture(demo.pid)
    loud = [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO]
    if healthy:
        assert loud == []
        return
    truth = demo.truth
    (d,) = [d for d in s.diagnoses if d.kind is Kind.DEADLOCK]
    assert d.severity is Severity.ERROR and d.certainty is Certainty.INFERRED and set(d.tids) == {truth["first"], truth["second"]}, d
    text = " ".join(d.evidence)
    assert "a BufferedReader's lock on fd" in text and "Threads share one file or socket object" in d.fix, d
    second = s.process(truth["reader_pid"]).thread(truth["second"])
    assert "waits on I/O" not in second.wait.summary, second.wait.summary
    assert len(loud) == 1, loud


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", ["pipe", "socketpair", "mp_pipe"])
@pytest.mark.parametrize("healthy", [False, True], ids=["hung", "healthy"])
def test_a_reader_that_holds_the_write_end_itself_waits_for_nobody(healthy, shape, python, start_demo):
    """A process whose only thread reads a pipe (socketpair, multiprocessing Pipe) whose other
    end only it holds -- it never closed its copy after fork(), the writer exited -- waits
    forever: not even EOF comes. The twin with a writer thread of its own draws nothing."""
    from pooltui.model import Certainty, Kind, Severity

    demo = start_demo("own_end", python, "--shape", shape, *(["--healthy"] if healthy else []))
    reader = demo.truth["reader_pid"]
    s = capture(demo.pid)
    loud = [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO]
    if healthy:
        assert loud == []
        return
    assert len(loud) == 1, loud
    d = next(d for d in s.diagnoses if d.kind is Kind.NO_WAKER)
    assert d.severity is Severity.ERROR and d.certainty is Certainty.FACT and d.pids[0] == reader and d.tids == (reader,), d
    t = s.process(reader).thread(reader)
    assert f"waits to read from {'socket' if shape == 'socketpair' else 'pipe'}:[" in d.summary and f"(fd {t.fd})" in d.summary, d.summary
    assert f"only pid {reader} itself holds" in d.summary and "no other process on this box does" in d.summary, d.summary
    assert "only this process holds" in t.wait.summary, t.wait.summary


# every poll on the hung side; the healthy twin for one poll of each shape (a thread, a process)
HELD_POLL = [
    ("thread", "select", False),
    ("thread", "epoll", False),
    ("process", "conn", False),
    ("process", "poll", False),
    ("thread", "select", True),
    ("process", "conn", True),
]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize(("where", "via", "healthy"), HELD_POLL, ids=[f"{w}-{v}-{'healthy' if h else 'hung'}" for w, v, h in HELD_POLL])
def test_a_lock_held_across_a_poll_its_writer_needs_is_a_deadlock(where, via, healthy, python, start_demo):
    """A thread holds a lock while it polls (select/poll/epoll, Connection.poll(None): no
    timeout) for what only a thread waiting on that lock would send. No edge followed a poll:
    the lock's holder "waits on I/O", and "No problems found". Who could end the poll is who
    could write to the ends it watches. The twins write without the lock: nothing."""
    from pooltui.model import Certainty, Kind, Severity

    demo = start_demo("held_poll", python, "--where", where, "--via", via, *(["--healthy"] if healthy else []))
    s = capture(demo.pid)
    loud = [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO]
    if healthy:
        assert loud == []
        return
    truth = demo.truth
    (d,) = [d for d in s.diagnoses if d.kind is Kind.DEADLOCK]
    assert d.severity is Severity.ERROR and d.certainty is Certainty.INFERRED, d
    assert {truth["poller_tid"], truth["writer_tid"]} <= set(d.tids) and len(d.tids) == 2, d
    text = " ".join(d.evidence)
    assert "with no timeout, until it can read" in text and "waits to lock" in text, d
    assert "holds a lock while it waits to read a pipe or socket" in d.fix, d
    assert len(loud) == 1, loud
