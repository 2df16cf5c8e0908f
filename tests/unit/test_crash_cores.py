"""Where a dead worker's core file is (``capture.crashcores``): core_pattern expanded with
what is known of the dead process, and a core taken only when it names that pid, is a
regular file (no symlink followed) and was written after the process started."""

from __future__ import annotations

import os

from pooltui.capture import crashcores
from pooltui.model import Process
from tests.unit.test_core_parse import make_core

DEAD = Process(pid=4242, ppid=1, create_time=0.0, name="python3.11")
SEGV_CORE = 11 | 0x80


def test_core_pattern_is_expanded_with_what_is_known_and_the_rest_matches_anything():
    assert crashcores.pattern_glob("core", False, DEAD, SEGV_CORE) == "core"
    assert crashcores.pattern_glob("core", True, DEAD, SEGV_CORE) == "core.4242"
    assert crashcores.pattern_glob("/var/crash/core.%e.%p.%s.%t", False, DEAD, SEGV_CORE) == "/var/crash/core.*.4242.11.*"
    assert crashcores.pattern_glob("/cores/[x]%%%p", True, DEAD, SEGV_CORE) == "/cores/[[]x]%4242"


def test_only_a_status_with_the_core_bit_is_a_core_dump():
    assert crashcores.core_dumped(SEGV_CORE) and not crashcores.core_dumped(11) and not crashcores.core_dumped(0x80 | 0)
    assert not crashcores.core_dumped(None) and not crashcores.core_dumped(0)


def test_the_core_of_that_pid_is_found_in_the_cores_directory(tmp_path):
    (tmp_path / "core.other").write_bytes(make_core(tid=777))
    (tmp_path / "notes.txt").write_text("not a core")
    (tmp_path / "core.4242").write_bytes(make_core(tid=4242))
    path, why = crashcores.find_core(DEAD, SEGV_CORE, None, str(tmp_path))
    assert path == str(tmp_path / "core.4242") and why == ""


def test_a_symlink_or_a_core_older_than_the_process_is_not_taken(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "core").write_bytes(make_core(tid=4242))
    cores = tmp_path / "cores"
    cores.mkdir()
    (cores / "core").symlink_to(real / "core")
    path, why = crashcores.find_core(DEAD, SEGV_CORE, None, str(cores))
    assert path is None and "no core file" in why
    (cores / "old").write_bytes(make_core(tid=4242))
    os.utime(cores / "old", (1000, 1000))
    later = Process(pid=4242, ppid=1, create_time=2000.0)
    assert crashcores.find_core(later, SEGV_CORE, None, str(cores))[0] is None


def test_a_piped_core_pattern_says_how_to_get_the_core(monkeypatch):
    monkeypatch.setattr(crashcores, "_pattern", lambda: ("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h", False))
    path, why = crashcores.find_core(DEAD, SEGV_CORE, "/tmp", None)
    assert path is None and "coredumpctl dump 4242 -o FILE" in why
    crash = crashcores.last_stack(DEAD, SEGV_CORE, "/tmp", None)
    assert crash.lines == (f"no core file: {why}",) and crash.path is None
