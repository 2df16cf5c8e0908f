"""What one /proc/PID/task/TID/syscall reading says about a wait (capture.kernel.describe):
whether it ends by itself (a timeout), and on which fd or child."""

from __future__ import annotations

import pytest

from pooltui.capture import kernel

pytestmark = pytest.mark.skipif(not kernel._X86_64, reason="system call numbers are x86_64's")

FOREVER = 0xFFFFFFFFFFFFFFFF  # -1 as /proc prints it


def test_a_futex_wait_is_timed_only_with_a_timeout():
    assert kernel.describe(202, (0x7F00, 0x80, 0, 0, 0, 0))[:2] == ("futex", False)
    assert kernel.describe(202, (0x7F00, 0x189, 0, 0x7FFE0, 0, FOREVER))[:2] == ("futex", True)


def test_a_wait_resumed_after_a_pause_is_timed():
    # a Timer's Event.wait(3600) after py-spy paused the process: restart_syscall with the
    # futex's own arguments still in the registers, until its deadline
    assert kernel.describe(219, (0x7F0A68001200, 0x189, 0, 0x7F0A777FD120, 0, 0xFFFFFFFF))[:2] == ("restart_syscall", True)
    # time.sleep on 3.11+: clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, req, NULL)
    assert kernel.describe(219, (1, 1, 0x7FFE0, 0, 0, 0))[:2] == ("restart_syscall", True)


def test_a_poll_resumed_after_a_pause_may_wait_forever():
    # poll(fds, n, -1) resumes through restart_syscall too: not known to end
    assert kernel.describe(219, (0x7F00, 2, FOREVER, 0, 0, 0))[:2] == ("restart_syscall", None)


def test_a_read_names_its_fd_and_a_wait4_its_child():
    assert kernel.describe(0, (6, 0x7F00, 4096, 0, 0, 0)) == ("read", False, 6, None)
    assert kernel.describe(61, (1234, 0x7FFE, 0, 0, 0, 0)) == ("wait4", False, None, 1234)


def test_a_wait_for_any_child_names_child_0():
    # os.wait(): wait4(-1) as /proc prints a pid_t -1; a process group; waitid(P_ALL), (P_PID, pid)
    assert kernel.describe(61, (0xFFFFFFFF, 0x7FFE, 0, 0, 0, 0)) == ("wait4", False, None, 0)
    assert kernel.describe(61, (FOREVER, 0x7FFE, 0, 0, 0, 0))[3] == 0
    assert kernel.describe(61, (0, 0x7FFE, 0, 0, 0, 0))[3] == 0
    assert kernel.describe(247, (0, 0, 0x7FFE, 4, 0, 0)) == ("waitid", False, None, 0)
    assert kernel.describe(247, (1, 4321, 0x7FFE, 4, 0, 0))[3] == 4321


def test_a_signal_wait_is_named_and_timed_only_with_a_timeout():
    # signal.pause(); signal.sigwait([...]): rt_sigtimedwait(set, NULL, NULL, 8); sigtimedwait(set, 3600)
    assert kernel.describe(34, (0, 0, 0, 0, 0, 0))[:2] == ("pause", False)
    assert kernel.describe(128, (0x7FFE00, 0, 0, 8, 0, 0))[:2] == ("rt_sigtimedwait", False)
    assert kernel.describe(128, (0x7FFE00, 0, 0x7FFE40, 8, 0, 0))[:2] == ("rt_sigtimedwait", True)
    assert kernel.describe(130, (0x7FFE00, 8, 0, 0, 0, 0))[:2] == ("rt_sigsuspend", False)
