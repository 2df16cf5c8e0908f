"""``capture.procfs``, the one reader of /proc: its error translation (gone, denied, other),
its bounds against a target that makes its files large, and its parsers over a /proc tree
recorded from a real process (scripts/record_proc.py: a futex wait, a pipe read, sockets,
a zombie child), read through the settable root."""

from __future__ import annotations

import ast
import errno
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pooltui.capture import census, ends, kernel, procfs, procs, safeopen, state, tasks
from pooltui.capture.errors import CaptureError, PermissionDenied, ProcessGone
from pooltui.capture.memory import kernel as memkernel
from pooltui.model.census import WAIT_FUTEX, WAIT_PIPE
from tests.conftest import examples

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "proc"
TRUTH = json.loads((FIXTURE / "truth.json").read_text())
PID, READER, ZOMBIE = TRUTH["pid"], TRUTH["reader_tid"], TRUTH["zombie_pid"]


@pytest.fixture
def recorded():
    with state.active(state.CaptureState(proc_root=str(FIXTURE / "root"))):
        yield


@pytest.fixture
def hostile(tmp_path):
    """A /proc of one process 7 whose files the test makes as large as a hostile target can."""
    (tmp_path / "7").mkdir()
    with state.active(state.CaptureState(proc_root=str(tmp_path))):
        yield tmp_path / "7"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("code", [errno.ENOENT, errno.ESRCH])
def test_a_file_or_process_gone_is_process_gone(code):
    error = procfs.translate(OSError(code, os.strerror(code)), 42, "the status")
    assert type(error) is ProcessGone and error.pid == 42 and error.strerror == os.strerror(code)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_a_refusal_is_permission_denied(code):
    error = procfs.translate(OSError(code, os.strerror(code)), 42, "the memory map")
    assert type(error) is PermissionDenied and error.message == "cannot read the memory map of process 42"


def test_any_other_failure_is_a_capture_error_saying_why():
    error = procfs.translate(OSError(errno.EIO, "Input/output error"), 42, "the memory map")
    assert type(error) is CaptureError and error.message == "cannot read the memory map of process 42: Input/output error"


def test_reads_translate_what_the_kernel_says(hostile, monkeypatch):
    with pytest.raises(ProcessGone):
        procfs.status(8)  # no such process
    with pytest.raises(ProcessGone):
        procfs.syscall(7, 9)  # its thread 9 exited
    (hostile / "task").write_bytes(b"")  # a file where a directory should be: ENOTDIR
    with pytest.raises(CaptureError) as other:
        procfs.tids(7)
    assert type(other.value) is CaptureError and "Not a directory" in other.value.message
    real_open = os.open

    def refusing(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("/7/maps"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(PermissionDenied, match="cannot read the memory map of process 7"):
        procfs.maps(7)


def test_callers_that_tolerate_a_failure_get_none_not_an_exception(hostile):
    assert procfs.stat_fields(8) is None and procfs.status_or_none(8) is None and procfs.syscall_or_none(8, 8) is None
    assert tasks.read_sched(8) == {} and kernel.pipe_ends(8) == () and procs.comm_of(8) == "?"


# --------------------------------------------------------------------------- bounds


def test_a_huge_command_line_is_read_up_to_its_bound(hostile):
    (hostile / "cmdline").write_bytes(b"python\0" + b"A" * (4 << 20))
    args = procfs.cmdline(7)
    assert args[0] == "python" and len("\0".join(args)) == procfs.reads.CMDLINE_BYTES


def test_a_huge_memory_map_is_cut_at_a_whole_line(hostile):
    line = b"7f0000000000-7f0000001000 r-xp 00000000 08:01 1234 /usr/lib/libpython3.11.so.1.0\n"
    (hostile / "maps").write_bytes(line * (procfs.reads.MAPS_SCAN_BYTES // len(line) + 10))
    text = procfs.maps_text(7, procfs.MAPS_SCAN_BYTES)
    assert len(text) <= procfs.MAPS_SCAN_BYTES and text.endswith(b"\n") and len(text) % len(line) == 0


def test_a_huge_fd_table_is_listed_up_to_its_bound(hostile):
    (hostile / "fd").mkdir()
    for fd in range(procfs.MAX_FDS + 50):
        os.symlink("pipe:[1]", hostile / "fd" / str(fd))
    assert len(procfs.fds(7)) == procfs.MAX_FDS


def test_a_huge_status_is_read_up_to_its_bound(hostile):
    (hostile / "status").write_bytes(b"Tgid:\t7\nGroups:\t" + b"1 " * (1 << 20) + b"\nTracerPid:\t9\n")
    status = procfs.status(7)
    assert status.tgid == 7 and status.tracer_pid is None  # past the bound: not read, not guessed


# --------------------------------------------------------------------------- the recorded tree


def test_stat_and_status_of_the_recorded_process(recorded):
    assert procfs.stat_fields(PID)[procfs.formats.STATE] == b"S"
    assert procfs.status(PID).tgid == PID and procfs.status(PID, READER).tgid == PID
    assert kernel.tracer_pid(PID) == 0
    assert kernel.caught_signals(PID) & 1 << 1  # SIGINT: Python's KeyboardInterrupt handler
    assert safeopen.creds_of(PID) is not None
    assert procs.comm_of(PID).startswith("python")
    assert procfs.cmdline(PID)[1].endswith("proc_target.py")
    assert procfs.cwd(PID) == os.path.dirname(TRUTH["unix_listener"]["path"])  # where it ran
    assert not tasks.is_kernel_thread(PID) and not tasks.is_exiting(PID)


def test_threads_and_what_each_waits_in(recorded):
    assert set(procfs.tids(PID)) == {PID, READER}
    calls = memkernel.thread_syscalls(PID)
    assert calls[PID].nr == 202 and calls[PID].futex_addr is not None and calls[PID].shared is False
    assert calls[READER].nr == 0 and calls[READER].args[0] == TRUTH["pipe_read_fd"]
    sched = tasks.read_sched(PID)
    assert sched.keys() == {PID, READER} and all(state == "S" for state, _ in sched.values())
    assert (census._thread_wait(PID, PID), census._thread_wait(PID, READER)) == (WAIT_FUTEX, WAIT_PIPE)


def test_the_zombie_child_and_its_exit_status(recorded):
    assert procs.child_pids(PID) == [ZOMBIE]
    assert tasks.task_state(ZOMBIE) == "Z" and tasks.read_exit_code(ZOMBIE) == TRUTH["zombie_status"]
    assert not memkernel.alive(ZOMBIE) and memkernel.alive(PID)


def test_the_memory_map_names_the_interpreter(recorded):
    maps = procfs.maps(PID)
    assert any(m.perms.startswith("r-x") for m in maps)
    assert procs.python_version(PID) == TRUTH["python"]
    assert census._maps_python(PID) in (None, TRUTH["python"])  # a static python3.11 maps no libpython


def test_pipes_and_sockets_from_fd_links_fdinfo_and_net_tables(recorded):
    pipes = {e.fd: e for e in kernel.pipe_ends(PID)}
    read_end, write_end = pipes[TRUTH["pipe_read_fd"]], pipes[TRUTH["pipe_write_fd"]]
    assert read_end.inode == write_end.inode == TRUTH["pipe_inode"] and (read_end.writes, write_end.writes) == (False, True)
    client, server = TRUTH["tcp"]
    peers, remotes = ends.tcp_peers(PID)
    assert peers == {client: server, server: client}
    assert remotes[client].startswith("127.0.0.1:") and remotes[server].startswith("127.0.0.1:") and remotes[client] != remotes[server]
    sockets = {e.inode for e in ends.socket_ends(PID, {})}
    assert {*TRUTH["pair"], client, server, TRUTH["unix_listener"]["inode"]} <= sockets
    assert census.unix_listeners(PID) == (TRUTH["unix_listener"]["path"],)


def test_files_of_the_system(recorded):
    assert procfs.boot_time() > 0
    assert procfs.proc_mount_options(procfs.mounts()) is not None
    assert procfs.setting("sys/kernel/core_uses_pid") in ("0", "1")
    assert set(procfs.pids()) == {str(PID), str(ZOMBIE)}  # "self", "stat", "sys" are no process


def test_psutil_reads_the_recorded_root(recorded):
    """psutil opens /proc itself (``psutil.PROCFS_PATH``); under a recorded root the walk's
    psutil facts come from the recording, as psutil read them live when it was made (here the
    recorded pids are gone, or another process's). The system's path is given back after."""
    infos = {info.pid: info for info in procs.walk_tree(PID)}
    assert sorted(infos) == sorted([PID, ZOMBIE])
    for pid, seen in TRUTH["psutil"].items():
        info = infos[int(pid)]
        read = {"ppid": info.ppid, "name": info.name, "status": info.status, "create_time": info.create_time}
        if info.status != "zombie":
            read.update(exe=info.exe, cmdline=list(info.cmdline), cpu_time=info.cpu_time, rss=info.rss)
        assert read == seen, pid
    assert infos[PID].python == TRUTH["python"] and infos[ZOMBIE].exit_code == TRUTH["zombie_status"]
    assert procs.create_time_of(PID) == TRUTH["psutil"][str(PID)]["create_time"]
    assert procs.is_alive(PID, infos[PID].create_time) and not procs.is_alive(ZOMBIE, infos[ZOMBIE].create_time)
    assert psutil.PROCFS_PATH == procfs.SYSTEM_ROOT


# --------------------------------------------------------------------------- hostile bytes


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=600))
def test_every_parser_is_total_on_hostile_bytes(raw):
    status = procfs.Status(raw)
    for value in (status.state, status.tgid, status.tracer_pid, status.caught_signals, status.effective_caps, status.fs_ids):
        assert value is None or isinstance(value, (str, int, tuple))
    assert status.switches >= 0
    assert isinstance(procfs.parse_fdinfo(raw).targets, tuple)
    assert all(isinstance(inode, int) for _, _, inode in procfs.parse_tcp(raw))
    assert all(isinstance(options, dict) for _, _, options in procfs.parse_mounts(raw))
    assert all(pid >= 0 for pid in procfs.parse_pids(raw))
    assert "\n" not in procfs.parse_comm(raw) and isinstance(procfs.parse_cmdline(raw), tuple)
    assert isinstance(procfs.formats.parse_boot_time(raw), float)
    text = raw.decode("utf-8", "replace")
    for kind in ("pipe", "socket"):
        assert procfs.formats.fd_inode(text, kind) is None or isinstance(procfs.formats.fd_inode(text, kind), int)


# --------------------------------------------------------------------------- the rule


def _texts(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string's fixed parts joined."""
    docs = {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, DOCUMENTED) and node.body and isinstance(node.body[0], ast.Expr)}
    parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs | parts:
            yield node.lineno, node.value


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def test_no_proc_path_outside_procfs():
    """Every /proc path is named by ``capture.procfs`` alone (a message may still mention /proc).
    Not the demo scenarios the wheel carries (``pooltui/demos``): stdlib-only scripts run as
    targets, not pooltui's code."""
    package = Path(procfs.__file__).resolve().parent.parent.parent
    found = []
    for path in sorted(package.rglob("*.py")):
        if "procfs" not in path.parts and "demos" not in path.relative_to(package).parts[:2]:
            found += [
                f"{path.relative_to(package)}:{n}: {text}" for n, text in _texts(ast.parse(path.read_text())) if re.match(r"/proc(/\S*)?$", text)
            ]
    assert found == []
