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
