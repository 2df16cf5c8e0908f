#!/usr/bin/env python3
"""Record the /proc tree the unit tests of ``capture.procfs`` read (``make fixtures`` runs it).

Starts tests/targets/proc_target.py (a futex wait, a pipe read, sockets, a zombie child),
waits until the kernel shows each of its threads in the system call it blocks in, then
copies what pooltui reads of it from /proc, as the kernel wrote it, into

  tests/fixtures/proc/root/PID/...    its stat, status, statm, comm, cmdline, maps, fd links,
                                      fdinfo, tasks (stat, status, syscall, children), net tables
                                      (its own sockets' lines), exe and cwd links; the zombie's
  tests/fixtures/proc/root/stat, self/mounts (the proc lines), sys/kernel/core_*
  tests/fixtures/proc/truth.json      what the target says of itself, and what psutil said of
                                      both processes, live, once the files were copied ("psutil")

Nothing is typed by hand: rerun it after changing what pooltui reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tests" / "targets" / "proc_target.py"
FIXTURE = ROOT / "tests" / "fixtures" / "proc"
PROC = Path("/proc")
SETTLE = 10.0  # seconds the target has to reach its waits


def _syscall_nr(pid: int, tid: int) -> str:
    try:
        return (PROC / str(pid) / "task" / str(tid) / "syscall").read_text().split()[0]
    except (OSError, IndexError):
        return ""


def _state(pid: int) -> str:
    try:
        return (PROC / str(pid) / "stat").read_bytes().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        return ""


def wait_until_settled(facts: dict) -> None:
    """Until the main thread waits in futex (202), the reader in read (0) and the child is a zombie."""
    pid = facts["pid"]
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        if _syscall_nr(pid, pid) == "202" and _syscall_nr(pid, facts["reader_tid"]) == "0" and _state(facts["zombie_pid"]) == "Z":
            return
        time.sleep(0.01)
    raise RuntimeError("the target did not reach its waits")


def copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        dst.write_bytes(src.read_bytes())


def own_lines(table: bytes, inodes: set[int], column: int) -> bytes:
    """The header and the lines of a net table about the target's own sockets."""
    lines = table.splitlines(keepends=True)
    kept = [line for line in lines[1:] if len(line.split()) > column and line.split()[column].isdigit() and int(line.split()[column]) in inodes]
    return b"".join(lines[:1] + kept)


def record_process(pid: int, out: Path, inodes: set[int]) -> None:
    src = PROC / str(pid)
    for name in ("stat", "status", "statm", "comm", "cmdline", "maps", "exe", "cwd"):
        if (src / name).exists() or (src / name).is_symlink():
            try:
                copy(src / name, out / name)
            except OSError:
                pass  # a zombie has no exe, cwd or maps to read
    for task in (src / "task").iterdir():
        for name in ("stat", "status", "syscall", "children"):
            try:
                copy(task / name, out / "task" / task.name / name)
            except OSError:
                pass
    try:
        fds = list((src / "fd").iterdir())
    except OSError:
        return
    for fd in fds:
        copy(fd, out / "fd" / fd.name)
        copy(src / "fdinfo" / fd.name, out / "fdinfo" / fd.name)
    for name, column in (("tcp", 9), ("tcp6", 9), ("unix", 6)) if inodes else ():
        (out / "net").mkdir(exist_ok=True)
        (out / "net" / name).write_bytes(own_lines((src / "net" / name).read_bytes(), inodes, column))


def psutil_view(pid: int) -> dict:
    """What psutil reads of ``pid`` from the live /proc (``capture.procs.read_proc``'s calls):
    the unit tests read the recorded copy through psutil and must get the same."""
    proc = psutil.Process(pid)
    with proc.oneshot():
        view = {"ppid": proc.ppid(), "name": proc.name(), "status": proc.status(), "create_time": proc.create_time()}
        if view["status"] != psutil.STATUS_ZOMBIE:
            times = proc.cpu_times()
            view.update(exe=proc.exe(), cmdline=proc.cmdline(), cpu_time=times.user + times.system, rss=proc.memory_info().rss)
    return view


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        target = subprocess.Popen(
            [sys.executable, str(TARGET), os.path.join(tmp, "listener")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=tmp,  # removed after: its cwd link dangles (a link to a tree would be collected by pytest)
        )
        try:
            assert target.stdout is not None
            facts = json.loads(target.stdout.readline())
            wait_until_settled(facts)
            shutil.rmtree(FIXTURE, ignore_errors=True)
            root = FIXTURE / "root"
            inodes = {facts["pipe_inode"], *facts["pair"], *facts["tcp"], facts["unix_listener"]["inode"]}
            record_process(facts["pid"], root / str(facts["pid"]), inodes)
            record_process(facts["zombie_pid"], root / str(facts["zombie_pid"]), set())
            (root / "stat").write_bytes((PROC / "stat").read_bytes())
            mounts = (PROC / "self" / "mounts").read_bytes().splitlines(keepends=True)
            (root / "self").mkdir()
            (root / "self" / "mounts").write_bytes(b"".join(line for line in mounts if line.split()[2:3] == [b"proc"]))
            for name in ("core_pattern", "core_uses_pid"):
                copy(PROC / "sys" / "kernel" / name, root / "sys" / "kernel" / name)
            facts["psutil"] = {str(pid): psutil_view(pid) for pid in (facts["pid"], facts["zombie_pid"])}
            (FIXTURE / "truth.json").write_text(json.dumps(facts, indent=1) + "\n")
        finally:
            target.kill()
            target.wait()
    print(f"recorded pid {facts['pid']} (and its zombie {facts['zombie_pid']}) into {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
