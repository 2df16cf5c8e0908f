"""Waits whose holders or wakers are not recorded anywhere, on real targets: two plain Locks
taken with acquire() in opposite orders (named by module globals, and passed as arguments
to one function two threads run)."""

from __future__ import annotations

import pytest

from tests.conftest import capture, interpreter_params
from tests.expectations import check_acquire_abba

pytestmark = pytest.mark.live
VERSIONS = ("2.7", "3.8", "3.11", "3.13")


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("spelling", ["argument", "global"])
def test_acquire_abba_is_a_deadlock(spelling, python, start_demo):
    demo = start_demo("acquire_abba", python, "--spelling", spelling)
    check_acquire_abba(capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_small_pools_crash_loop_is_said_from_one_snapshot_and_loses_no_task(python, start_demo):
    """Pool(2) whose initializer raises: one snapshot (no --samples) sees two or three deaths,
    each exit code 1; it is a crash loop, and no task is said lost (none was ever taken)."""
    demo = start_demo("crash_loop", python, "--workers", "2")
    for _ in range(3):
        s = capture(demo.pid)
        kinds = [d.kind.value for d in s.diagnoses]
        assert "crash_loop" in kinds and "lost_task" not in kinds and "pool_hung" not in kinds, [(d.kind.value, d.summary) for d in s.diagnoses]
