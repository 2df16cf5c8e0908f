"""A Manager lock's abandonment is concluded from the Manager and its clients read at
different instants: an error only once its waiters, read again, had not moved
(``Lock.confirmed``); read once it is a guess; a waiter that moved means it changed hands."""

import pytest

from pooltui.analysis import analyze
from pooltui.model import Severity, replace
from tests.conftest import fixture_names, load_fixture

NAMES = [n for n in fixture_names() if n.startswith("manager_lock-py")]


def abandoned(name: str, confirmed):  # type: ignore[no-untyped-def]
    raw, _ = load_fixture(name)
    locks = tuple(replace(lock, confirmed=confirmed) if lock.manager is not None else lock for lock in raw.locks)
    return [d for d in analyze(raw.with_(locks=locks)).diagnoses if d.kind == "abandoned_lock"]


@pytest.mark.parametrize("name", NAMES)
def test_recorded_abandonment_is_confirmed(name):
    raw, _ = load_fixture(name)
    assert [lock.confirmed for lock in raw.locks if lock.manager is not None] == [True]
    [d] = abandoned(name, True)
    assert d.severity is Severity.ERROR and any("had not moved" in e for e in d.evidence)


@pytest.mark.parametrize("name", NAMES)
def test_read_once_it_is_a_guess_and_moved_waiters_say_nothing(name):
    [d] = abandoned(name, None)
    assert d.severity is Severity.WARNING
    assert abandoned(name, False) == []
