"""The rule incremental refresh rests on (capture.procs.ran_since): a thread asleep at two
reads with the same context-switch count was not scheduled in between."""

from __future__ import annotations

from pooltui.capture.procs import any_running, ran_since

ASLEEP = {10: ("S", 7), 11: ("S", 3), 12: ("D", 0)}


def test_asleep_with_the_same_switch_counts_did_not_run():
    assert not ran_since(ASLEEP, dict(ASLEEP))
    assert not any_running(ASLEEP)


def test_a_switch_a_running_state_or_another_set_of_threads_counts_as_ran():
    assert ran_since(ASLEEP, {**ASLEEP, 11: ("S", 4)})  # woke, ran, slept again
    assert ran_since(ASLEEP, {**ASLEEP, 10: ("R", 7)})  # running now, not switched out yet
    assert ran_since({**ASLEEP, 10: ("R", 7)}, ASLEEP)  # was running at the first read
    assert ran_since(ASLEEP, {10: ("S", 7), 11: ("S", 3)})  # a thread exited
    assert ran_since(ASLEEP, {**ASLEEP, 13: ("S", 1)})  # a thread started
    assert any_running({**ASLEEP, 12: ("R", 0)})


def test_nothing_read_is_never_taken_as_asleep():
    assert ran_since({}, {})
    assert any_running({})
