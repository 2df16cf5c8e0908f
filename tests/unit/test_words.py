"""The model's vocabulary (model.words): each member is the word every report has saved, so
code that compares, looks up or prints a field gets the same answer whether the value came
from a capture (a member) or from a loaded report (a plain str)."""

from __future__ import annotations

import json

import pytest

from pooltui.analysis.locks import KIND_LABEL
from pooltui.model import ErrorCode, LockKind, ProcessRole, ProcessStatus, SemLockKind, ThreadRole, Wait, WaitKind, Word, dumps, loads
from pooltui.model.tree import Lock, Process, Snapshot, Thread

pytestmark = pytest.mark.unit

WORDS = [m for enum in (ProcessStatus, ProcessRole, ThreadRole, LockKind, SemLockKind, ErrorCode) for m in enum]


@pytest.mark.parametrize("member", WORDS, ids=str)
def test_a_word_is_its_saved_text(member: Word) -> None:
    text = member.value
    assert member == text and text == member
    assert hash(member) == hash(text)  # a dict keyed by members answers a loaded report's str
    assert {member: 1}.get(text) == 1 and {text: 1}.get(member) == 1
    assert f"{member}" == str(member) == f"{member:s}" == text
    assert json.dumps(member) == json.dumps(text)


def test_a_saved_report_keeps_the_words_as_text() -> None:
    thread = Thread(tid=2, ident=3, role=ThreadRole.QUEUE_FEEDER, wait=Wait(WaitKind.LOCK, "waits"))
    proc = Process(pid=2, ppid=1, create_time=1.0, status=ProcessStatus.ZOMBIE, role=ProcessRole.POOL_WORKER, threads=(thread,))
    lock = Lock(id="2:10", kind=LockKind.RLOCK, name="L", pid=2, addr=16, semlock_kind=SemLockKind.RECURSIVE_MUTEX)
    text = dumps(Snapshot(created=1.0, host="h", root_pid=1, processes=(proc,), locks=(lock,)))
    for word in ('"role": "queue feeder"', '"status": "zombie"', '"role": "pool worker"', '"kind": "rlock"', '"semlock_kind": "RECURSIVE_MUTEX"'):
        assert word in text
    loaded = loads(text).snapshot
    assert type(loaded.processes[0].role) is str and loaded.processes[0].role == ProcessRole.POOL_WORKER
    assert KIND_LABEL[loaded.locks[0].kind] == "RLock"
    assert loaded.processes[0].threads[0].role == ThreadRole.QUEUE_FEEDER


def test_a_summary_written_anew_drops_the_facts_of_the_old_one() -> None:
    wait = Wait(WaitKind.LOCK, "the event loop is blocked (in coroutine c): waits; waits to read from x", coroutine="c", far="x")
    again = wait.reworded(summary="waits on L (Lock) held by 'T'", lock_id="1:2")
    assert (again.summary, again.lock_id, again.coroutine, again.far) == ("waits on L (Lock) held by 'T'", "1:2", None, None)
