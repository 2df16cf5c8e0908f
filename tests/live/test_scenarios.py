"""Every demo scenario, live, on every installed interpreter: start it, wait for its
readiness signal, read it with real py-spy through the same LiveSource the TUI uses,
and check what a person would look for (tests/expectations.py)."""

from __future__ import annotations

import pytest

from tests.conftest import capture, interpreter_params
from tests.expectations import CHECKS, check_manager_lock_killed, check_manager_lock_with

pytestmark = pytest.mark.live

NEEDS_3 = {"executor", "asyncio_blocked", "asyncio_executor"}  # ProcessPoolExecutor with mp_context, asyncio.run: 3.8+


@pytest.mark.parametrize("python", interpreter_params())
@pytest.mark.parametrize("scenario", sorted(CHECKS))
def test_scenario_live(scenario, python, start_demo):
    if scenario in NEEDS_3 and "/2.7" in python:
        pytest.skip(f"{scenario} needs Python 3.8+")
    demo = start_demo(scenario, python)
    version = demo.info["python"].rsplit(".", 1)[0]
    snapshot = capture(demo.pid)
    CHECKS[scenario](snapshot, demo.truth, version)


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_mp_abba_start_methods_live(method, python, start_demo):
    """Spawn and forkserver children have their own SemLock at their own address: the
    cycle is found through the /dev/shm semaphore they share, not through addresses."""
    demo = start_demo("mp_abba", python, "--method", method)
    assert demo.info["start_method"] == method
    CHECKS["mp_abba"](capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
def test_mp_semaphore_spawn_live(python, start_demo):
    """The semaphore's holders are found in spawned workers too (own SemLock copies)."""
    demo = start_demo("mp_semaphore", python, "--method", "spawn")
    CHECKS["mp_semaphore"](capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_manager_lock_start_methods_live(method, python, start_demo):
    """The Manager and its clients started by spawn/forkserver: same facts, same verdict."""
    demo = start_demo("manager_lock", python, "--method", method)
    CHECKS["manager_lock"](capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])


@pytest.mark.parametrize("python", interpreter_params(("2.7", "3.8", "3.11", "3.13")))
def test_manager_lock_held_in_with_live(python, start_demo):
    """A Manager lock held in `with proxy:` by a client that hangs: holder thread and line."""
    demo = start_demo("manager_lock", python, "--hold", "with")
    check_manager_lock_with(capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])


@pytest.mark.parametrize("python", interpreter_params(("2.7", "3.8", "3.11", "3.13")))
def test_manager_lock_holder_killed_live(python, start_demo):
    """The client holding a Manager lock was SIGKILLed: nobody connected can release it (error)."""
    demo = start_demo("manager_lock", python, "--hold", "killed")
    check_manager_lock_killed(capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])
