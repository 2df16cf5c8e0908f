"""What is said of a pipe's or socket's other end outside the tree (analysis.ends.outside),
and how /proc/net/tcp addresses read (capture.procfs.tcp_address)."""

from __future__ import annotations

from pooltui.analysis import ends
from pooltui.capture.procfs import tcp_address as _address
from pooltui.model import Frame, PipeEnd, Process, Snapshot, SocketEnd, Thread, Wait, WaitKind


def test_proc_net_tcp_addresses_read_as_people_write_them():
    assert _address("0100007F:1F90") == "127.0.0.1:8080"
    assert _address("0302010A:1538") == "10.1.2.3:5432"
    assert _address("00000000000000000000000001000000:0050") == "[::1]:80"
    assert _address("0000000000000000FFFF00000302010A:1538") == "10.1.2.3:5432"  # v4-mapped
    assert _address("zz:1") is None and _address("0100007F") is None and _address("01:1") is None


def _snapshot(*, sockets=(), pipes=(), others=()):
    wait = Wait(WaitKind.SELECT, "waits on I/O in `conn.recv(4096)` in ask, app.py:9")
    t = Thread(tid=11, ident=1, frames=(Frame("ask", "app.py", 9),), wait=wait, syscall="recvfrom", fd=5, timed=False)
    p = Process(pid=11, ppid=1, create_time=0.0, threads=(t,), sockets=tuple(sockets), pipes=tuple(pipes))
    return Snapshot(created=0.0, host="h", root_pid=11, processes=(p, *others))


def _said(snapshot):
    return ends.outside(snapshot).processes[0].threads[0].wait.summary


def test_a_connection_to_another_host_is_outside_this_box():
    said = _said(_snapshot(sockets=[SocketEnd(fd=5, inode=900, remote="10.1.2.3:5432")]))
    assert said.endswith("; waits to read from 10.1.2.3:5432 (fd 5), outside this box: no process here holds its other end"), said


def test_a_connection_whose_peer_is_on_this_host_but_not_in_the_tree():
    said = _said(_snapshot(sockets=[SocketEnd(fd=5, inode=900, peer=901, remote="127.0.0.1:6379")]))
    assert "127.0.0.1:6379 (fd 5), a process on this host outside this tree" in said, said


def test_an_end_held_in_the_tree_is_left_to_the_graph_and_said_once():
    peer = Process(pid=12, ppid=11, create_time=0.0, sockets=(SocketEnd(fd=3, inode=901, peer=900),))
    snap = _snapshot(sockets=[SocketEnd(fd=5, inode=900, peer=901, remote="127.0.0.1:6379")], others=(peer,))
    assert "; waits to" not in _said(snap)
    lone = _snapshot(pipes=[PipeEnd(fd=5, inode=77, writes=False)])
    once = ends.outside(ends.outside(lone))
    assert once.processes[0].threads[0].wait.summary.count("; waits to read from pipe:[77] (fd 5)") == 1
