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
