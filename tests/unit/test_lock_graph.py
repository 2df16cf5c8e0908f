"""The wait-for graph (``analysis.graph``: edges, the deadlocked set, its cycles), on recorded
captures of the deadlock demos; and where `enter` on a lock waiter goes (``ui.follow``)."""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze, graph
from pooltui.analysis.edge import Edge
from pooltui.model import Certainty, Frame, Thread, replace
from pooltui.ui.follow import follow
from tests.conftest import fixture_names, load_fixture


def names(prefix):
    found = fixture_names(prefix)
    return found or [pytest.param("none", marks=pytest.mark.skip(reason=f"no {prefix} fixtures recorded"))]


def _cycles(snap):  # type: ignore[no-untyped-def]
    return graph.cycles(graph.deadlocked(graph.edges(snap)))


@pytest.mark.parametrize("name", names("abba-"))
def test_abba_graph_has_one_two_thread_cycle(name):
    raw, truth = load_fixture(name)
    snap = analyze(raw)
    cycles = _cycles(snap)
    assert len(cycles) == 1
    assert {tid for _, tid in cycles[0]} == {t["tid"] for t in truth["truth"]["threads"].values()}


@pytest.mark.parametrize("name", names("mp_abba-"))
def test_cross_process_cycle(name):
    raw, truth = load_fixture(name)
    cycles = _cycles(analyze(raw))
    assert len(cycles) == 1
    assert {pid for pid, _ in cycles[0]} == {p["pid"] for p in truth["truth"]["processes"].values()}


@pytest.mark.parametrize("name", names("contention-") + names("logging_fork-") + names("healthy-"))
def test_no_cycle_without_a_deadlock(name):
    raw, _ = load_fixture(name)
    assert _cycles(analyze(raw)) == []


def _waits(*pairs):  # type: ignore[no-untyped-def]
    return [Edge(waiter, (on,), "lock", "", Certainty.FACT) for waiter, on in pairs]


def test_cycle_finder_on_chains_and_rings():
    edges = _waits(((1, 1), (1, 2)), ((1, 2), (1, 3)), ((1, 3), (1, 1)), ((2, 9), (1, 1)))
    [cycle] = graph.cycles(graph.deadlocked(edges))  # the tail (2, 9) leads into the ring but is not part of it
    assert set(cycle) == {(1, 1), (1, 2), (1, 3)}
    assert graph.cycles(graph.deadlocked(_waits(((1, 1), (1, 2))))) == []


@pytest.mark.parametrize("name", names("contention-"))
def test_enter_follows_to_the_holder(name):
    raw, truth = load_fixture(name)
    snap = analyze(raw)
    waiter = snap.process(truth["truth"]["waiter_pids"][0]).thread(truth["truth"]["waiter_pids"][0])
    assert follow(snap, waiter).pid == truth["truth"]["holder"]["pid"]


@pytest.mark.parametrize("name", names("socket_cycle-"))
def test_a_socket_to_a_waiting_parent_closes_a_cycle(name):
    raw, truth = load_fixture(name)
    t = truth["truth"]
    [d] = [d for d in analyze(raw).diagnoses if d.kind == "deadlock_cycle"]
    assert d.severity.value == "error" and set(d.tids) == {t["parent"]["tid"], t["worker"]["tid"]}
    text = " ".join(d.evidence)
    assert "waiting to read socket:[" in text and f"its other end is held by pid {t['parent']['pid']}" in text, text


@pytest.mark.parametrize("name", names("socket_cycle-"))
def test_a_socket_edge_needs_the_other_end_and_an_untimed_wait(name):
    raw, truth = load_fixture(name)
    worker = truth["truth"]["worker"]
    no_ends = raw.with_(processes=tuple(replace(p, sockets=()) if p.pid != worker["pid"] else p for p in raw.processes))
    assert not [d for d in analyze(no_ends).diagnoses if d.kind == "deadlock_cycle"]

    def timed(p):
        return replace(p, threads=tuple(replace(x, timed=True) if x.tid == worker["tid"] else x for x in p.threads))

    assert not [d for d in analyze(raw.with_(processes=tuple(map(timed, raw.processes)))).diagnoses if d.kind == "deadlock_cycle"]


@pytest.mark.parametrize("name", names("socket_cycle-"))
def test_a_parent_thread_that_could_still_answer_breaks_the_cycle(name):
    """Another parent thread in a timed wait inside socket code (a selector's timeout; not
    in select on known other fds) may write the answer once it wakes: no deadlock (a false
    page is worse than a late one). A heartbeat asleep in code that touches no pipe or socket
    is no waker: it vetoes nothing (issue 26)."""
    raw, truth = load_fixture(name)
    parent = truth["truth"]["parent"]["pid"]

    def with_thread(*frames: Frame):  # type: ignore[no-untyped-def]
        extra = Thread(tid=999999, ident=1, name="answerer", frames=frames, syscall="clock_nanosleep", timed=True)
        return raw.with_(processes=tuple(replace(p, threads=(*p.threads, extra)) if p.pid == parent else p for p in raw.processes))

    selector = (Frame("select", "/usr/lib/python3.11/selectors.py", 468), Frame("serve", "/app/answer.py", 3))
    assert not [d for d in analyze(with_thread(*selector)).diagnoses if d.kind == "deadlock_cycle"]
    heartbeat = (Frame("sleep", "<built-in>", 0, native=True), Frame("heartbeat", "/app/beat.py", 3))
    [d] = [d for d in analyze(with_thread(*heartbeat)).diagnoses if d.kind == "deadlock_cycle"]
    assert d.severity.value == "error"


@pytest.mark.parametrize("name", names("socket_cycle-"))
def test_a_parent_thread_writing_to_the_waiting_worker_breaks_the_cycle(name):
    """A parent thread caught in sendto() on the very connection the worker blocks reading
    (an rpc server answering it right now): the data is moving, nobody waits on anybody.
    A parent thread in sendto() on another connection does not answer this one."""
    raw, truth = load_fixture(name)
    parent, worker = truth["truth"]["parent"]["pid"], truth["truth"]["worker"]
    w = next(x for x in raw.processes if x.pid == worker["pid"])
    wt = w.thread(worker["tid"])
    peer = next(e.peer for e in w.sockets if e.fd == wt.fd)
    far_fd = next(e.fd for x in raw.processes if x.pid == parent for e in x.sockets if e.inode == peer)

    def with_writer(fd):  # type: ignore[no-untyped-def]
        writer = Thread(tid=999999, ident=1, name="rpc-server", frames=(Frame("server", "/app/rpc.py", 9),), syscall="sendto", fd=fd, timed=False)
        more = raw.with_(processes=tuple(replace(p, threads=(*p.threads, writer)) if p.pid == parent else p for p in raw.processes))
        return [d for d in analyze(more).diagnoses if d.kind == "deadlock_cycle"]

    assert with_writer(far_fd) == []
    assert with_writer(far_fd + 1000) != []


@pytest.mark.parametrize("name", names("socket_cycle-"))
def test_a_parent_thread_blocked_elsewhere_is_left_out_unless_it_ran_when_read_again(name):
    """A parent thread blocked reading another fd is not about to answer the worker: the
    cycle stands. Read again it had moved (``Thread.ran``, capture.ends.confirm: an rpc server
    caught for a moment in recv() on another worker's socket): it may answer, no deadlock."""
    raw, truth = load_fixture(name)
    parent = truth["truth"]["parent"]["pid"]

    def with_server(**state):  # type: ignore[no-untyped-def]
        server = Thread(tid=999999, ident=1, name="rpc-server", frames=(Frame("server", "/app/rpc.py", 9),), **state)
        more = raw.with_(processes=tuple(replace(p, threads=(*p.threads, server)) if p.pid == parent else p for p in raw.processes))
        return [d for d in analyze(more).diagnoses if d.kind == "deadlock_cycle"]

    assert with_server(syscall="recvfrom", fd=987, timed=False) != []
    assert with_server(ran=True) == []


@pytest.mark.parametrize("name", names("condition_cycle-"))
def test_a_condition_waiter_waits_on_the_holder_of_its_lock(name):
    raw, truth = load_fixture(name)
    t = truth["truth"]
    [d] = [d for d in analyze(raw).diagnoses if d.kind == "deadlock_cycle"]
    assert d.severity.value == "error" and d.certainty.value == "fact" and set(d.tids) == {t["main"]["tid"], t["loader"]["tid"]}
    assert any("only that thread can notify it" in e for e in d.evidence), d.evidence


@pytest.mark.parametrize("name", names("condition_cycle-"))
def test_a_condition_waiter_seen_to_run_when_read_again_waits_on_nobody(name):
    """The lock's owner is read at another instant than the waiter's stack: two threads
    handing a turn back and forth through one Condition were each read waiting while the
    other held its lock -- a false deadlock, though both ran when read again (``Thread.ran``,
    capture.ends.confirm: CI's ping-pong twin). A waiter that ran has no edge."""
    raw, truth = load_fixture(name)
    t = truth["truth"]

    def ran(p):
        return replace(p, threads=tuple(replace(x, ran=True) if x.notifier else x for x in p.threads))

    assert any(x.notifier for p in raw.processes for x in p.threads)
    found = analyze(raw.with_(processes=tuple(map(ran, raw.processes)))).diagnoses
    assert not [d for d in found if d.kind == "deadlock_cycle" and d.severity.value == "error" and t["main"]["tid"] in d.tids], found


@pytest.mark.parametrize("name", names("condition_cycle-"))
def test_unread_condition_and_join_leave_only_a_guess(name):
    """Without the objects read (an older capture, a refused read): the join goes to the
    threads that wait too, a guess, and the Condition waiter has no edge -- no error."""
    raw, _ = load_fixture(name)

    def unread(p):
        return replace(p, threads=tuple(replace(x, joins=None, notifier=None) for x in p.threads))

    found = analyze(raw.with_(processes=tuple(map(unread, raw.processes)))).diagnoses
    assert not [d for d in found if d.severity.value == "error"], found
