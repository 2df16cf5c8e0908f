"""Where a dead worker's core file is (``capture.crashcores``): core_pattern expanded with
what is known of the dead process, and a core taken only when it names that pid, is a
regular file (no symlink followed) and was written after the process started."""

from __future__ import annotations

import os

import pytest

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


BOOT = "0123456789abcdef0123456789abcdef"
COREDUMP = "|/usr/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h"


def _store(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A systemd-coredump store laid out as systemd 252-256 writes it (core.COMM.UID.BOOTID.PID.USEC.EXT)."""
    store = tmp_path / "coredump"
    store.mkdir()
    monkeypatch.setattr(crashcores, "_pattern", lambda: (COREDUMP, False))
    monkeypatch.setattr(crashcores.coredumpstore, "STORE", str(store))
    return store


def _compressed(raw: bytes, ext: str) -> bytes:
    import lzma
    import shutil
    import subprocess

    if not ext:
        return raw
    if ext == ".xz":
        return lzma.compress(raw)
    tool = {".zst": "zstd", ".lz4": "lz4"}[ext]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed here")
    return subprocess.run([tool, "-c"], input=raw, capture_output=True, check=True).stdout


@pytest.mark.parametrize("ext", [".zst", ".lz4", ".xz", ""])
def test_systemd_coredumps_store_gives_the_core_of_that_pid_decompressed(tmp_path, monkeypatch, ext):
    import shutil

    store = _store(tmp_path, monkeypatch)
    (store / f"core.python3\\x2e11.0.{BOOT}.777.1765000000000000{ext}").write_bytes(_compressed(make_core(tid=777), ext))
    (store / f"core.python3\\x2e11.0.{BOOT}.4242.1765000000000001{ext}").write_bytes(_compressed(make_core(tid=4242), ext))
    path, note = crashcores.find_core(DEAD, SEGV_CORE, "/tmp", None)
    assert path is not None and os.path.basename(path) == f"core.python3\\x2e11.0.{BOOT}.4242.1765000000000001", path
    assert open(path, "rb").read() == make_core(tid=4242)
    assert f"decompressed from systemd-coredump's {store}/core." in note and os.path.dirname(path) in note
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0, "a private directory: a core holds the heap"
    shutil.rmtree(os.path.dirname(path))


def test_a_store_without_the_core_or_with_a_bad_one_says_how_to_get_it(tmp_path, monkeypatch):
    store = _store(tmp_path, monkeypatch)
    path, why = crashcores.find_core(DEAD, SEGV_CORE, "/tmp", None)
    assert path is None and "has no core of pid 4242" in why and "coredumpctl dump 4242 -o FILE" in why
    (store / f"core.python.0.{BOOT}.4242.1765000000000000.zst").write_bytes(b"\x28\xb5\x2f\xfd garbage")
    path, why = crashcores.find_core(DEAD, SEGV_CORE, "/tmp", None)
    assert path is None and "not decompressed" in why and "coredumpctl dump 4242 -o FILE" in why, why
    os.unlink(store / f"core.python.0.{BOOT}.4242.1765000000000000.zst")
    (tmp_path / "secret").write_bytes(make_core(tid=4242))
    (store / f"core.python.0.{BOOT}.4242.1765000000000000").symlink_to(tmp_path / "secret")
    assert crashcores.find_core(DEAD, SEGV_CORE, "/tmp", None)[0] is None, "no symlink out of the store is followed"
    os.chmod(store, 0)
    if os.geteuid() != 0:
        assert "cannot be read" in crashcores.find_core(DEAD, SEGV_CORE, "/tmp", None)[1]


def test_a_stored_core_past_the_bound_is_not_decompressed_whole(tmp_path):
    from pooltui.capture import coredumpstore

    big = tmp_path / f"core.python.0.{BOOT}.4242.1.xz"
    big.write_bytes(_compressed(b"\0" * (3 << 20), ".xz"))
    path, why = coredumpstore.extract(str(big), limit=1 << 20)
    assert path is None and "larger than 1 MB" in why
    assert coredumpstore.stored_as(f"core.a.b.c.0.{BOOT}.4242.17.zst") == (4242, 17)
    assert coredumpstore.stored_as("core.4242") is None and coredumpstore.stored_as(f"core.x.0.{BOOT}.pid.17") is None
