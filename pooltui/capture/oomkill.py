"""Whether the kernel's OOM killer killed a process, from what the kernel itself says.

A worker ``killed by SIGKILL`` was either killed by a person (``kill -9``, a supervisor) or
by the kernel's OOM killer; the wait status is the same. Three things tell them apart,
each read only when it can be, and never guessed past:

* ``/proc/vmstat``'s ``oom_kill``: every OOM kill on the machine (a cgroup's too) since
  boot. Read before a capture walks the tree: a process seen alive by that capture died
  after the read, so the counter not moving by the time its death is seen means no OOM
  killer;
* its memory cgroup's counter: ``memory.events`` ``oom_kill`` (cgroup v2) or
  ``memory.oom_control`` ``oom_kill`` (v1, Linux >= 4.13), the cgroup from
  ``/proc/PID/cgroup`` read while it lived; the same reasoning, for its cgroup alone;
* the kernel log (``/dev/kmsg``, readable by root or when ``dmesg_restrict`` is 0): the OOM
  killer's own line names the pid and the command (``Killed process 8139 (python3)``,
  ``oom-kill:...,task=python3,pid=8139``). Read without blocking, at most
  ``MAX_RECORDS`` records.

Paths under ``/sys/fs/cgroup`` come from the kernel's ``/proc/PID/cgroup``, and are still
opened beneath the cgroup mount without following a symlink (``safeopen.open_in_root``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import CaptureError
from pooltui.capture.safeopen import open_in_root
from pooltui.model.record import Record, field

CGROUP_ROOT = "/sys/fs/cgroup"
KMSG = "/dev/kmsg"
MAX_FILE = 64 << 10
MAX_RECORDS = 20000  # the kernel's ring buffer holds a few thousand records
MAX_LOG_BYTES = 8 << 20
CLOCK_SLACK = 2.0  # seconds: the kernel log's clock against CLOCK_MONOTONIC
_KILLED = re.compile(r"\bKilled process (\d+) \(([^)]*)\)")
_OOM_KILL = re.compile(r"\boom-kill:.*\btask=([^,]*),pid=(\d+)\b")


class Counters(Record, frozen=True):
    """OOM kill counters read at one instant: the machine's, and each memory cgroup's."""

    system: Optional[int]
    cgroups: dict[str, int] = field(default_factory=dict)  # cgroup (a path under CGROUP_ROOT) -> oom_kill


class KernelLog(Record, frozen=True):
    """The OOM killer's lines in the kernel log: (monotonic seconds, pid, command, line)
    each, and the time of the oldest record still in the buffer (what it covers)."""

    kills: tuple[tuple[float, int, str, str], ...]
    oldest: Optional[float]


def _read_small(path: str, limit: int = MAX_FILE) -> Optional[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def counter_in(text: bytes) -> Optional[int]:
    """The ``oom_kill N`` line of /proc/vmstat, memory.events or memory.oom_control."""
    for line in text.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def system_count() -> Optional[int]:
    try:
        raw = procfs.vmstat()
    except CaptureError:
        return None
    return counter_in(raw)


def parse_cgroup(text: bytes) -> Optional[str]:
    """The memory cgroup of /proc/PID/cgroup's text, as a path under CGROUP_ROOT
    (``memory/a/b`` for v1, ``unified/a/b`` or ``a/b`` for v2), or None."""
    v1 = v2 = None
    for line in text.split(b"\n"):
        parts = line.split(b":", 2)
        if len(parts) != 3 or not parts[2].startswith(b"/") or b"\0" in parts[2]:
            continue
        path = os.fsdecode(parts[2]).strip("/")
        if ".." in path.split("/"):
            continue
        if b"memory" in parts[1].split(b","):
            v1 = "/".join(p for p in ("memory", path) if p)
        elif parts[0] == b"0" and not parts[1]:
            v2 = path
    if v1 is not None:
        return v1
    if v2 is not None:
        base = "" if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")) else "unified"
        return "/".join(p for p in (base, v2) if p)
    return None


def cgroup_of(pid: int) -> Optional[str]:
    try:
        raw = procfs.cgroup(pid)
    except CaptureError:
        return None
    return parse_cgroup(raw.encode())


def cgroup_count(cgroup: str) -> Optional[int]:
    """The cgroup's oom_kill counter (v2 memory.events, else v1 memory.oom_control), or None."""
    try:
        root = os.open(CGROUP_ROOT, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for name in ("memory.events", "memory.oom_control"):
            try:
                fd = open_in_root(root, os.fsencode(f"{cgroup}/{name}"), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except (OSError, ValueError):
                continue
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    found = counter_in(os.read(fd, MAX_FILE))
                    if found is not None:
                        return found
            except OSError:
                pass
            finally:
                os.close(fd)
        return None
    finally:
        os.close(root)


def read_counters(cgroups: set[str]) -> Counters:
    found = {}
    for cgroup in sorted(cgroups):
        count = cgroup_count(cgroup)
        if count is not None:
            found[cgroup] = count
    return Counters(system_count(), found)


def parse_kmsg_record(record: bytes) -> Optional[tuple[float, str]]:
    """(seconds since boot, first line of the message) of one /dev/kmsg record."""
    head, sep, body = record.partition(b";")
    fields = head.split(b",")
    if not sep or len(fields) < 3 or not fields[2].isdigit():
        return None
    return int(fields[2]) / 1e6, body.split(b"\n", 1)[0].decode("utf-8", "replace")


def oom_line(message: str) -> Optional[tuple[int, str]]:
    """(pid, command) of an OOM killer's line, or None."""
    m = _KILLED.search(message)
    if m:
        return int(m.group(1)), m.group(2)
    m = _OOM_KILL.search(message)
    if m:
        return int(m.group(2)), m.group(1)
    return None


def read_kernel_log(path: str = KMSG) -> Optional[KernelLog]:
    """The OOM kills in the kernel's log buffer, or None when it cannot be read here."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    kills: list[tuple[float, int, str, str]] = []
    oldest: Optional[float] = None
    total = 0
    try:
        if not stat.S_ISCHR(os.fstat(fd).st_mode):
            return None
        for _ in range(MAX_RECORDS):
            try:
                record = os.read(fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten while reading: go on from the next
                    continue
                if exc.errno == errno.EAGAIN:
                    break
                return None
            if not record:
                break
            total += len(record)
            parsed = parse_kmsg_record(record)
            if parsed is None:
                continue
            at, message = parsed
            oldest = at if oldest is None else min(oldest, at)
            found = oom_line(message)
            if found is not None:
                kills.append((at, found[0], found[1], message[:300]))
            if total > MAX_LOG_BYTES:
                break
    finally:
        os.close(fd)
    return KernelLog(tuple(kills), oldest)


def monotonic_of(wall: float) -> float:
    """A wall-clock time as seconds on the kernel log's clock (CLOCK_MONOTONIC, near enough)."""
    return wall - time.time() + time.monotonic()


def verdict(
    pid: int,
    name: str,
    since: float,
    before: Optional[Counters],
    after: Counters,
    cgroup: Optional[str],
    log: Optional[KernelLog],
) -> tuple[Optional[bool], str]:
    """(whether the OOM killer killed it: None when that is not readable, the evidence line)
    for a process killed by SIGKILL between ``since`` (wall clock: the last sample that saw
    it alive, whose counters are ``before``) and the reading ``after`` died, in one line;
    only what the kernel's facts say."""
    start = monotonic_of(since) - CLOCK_SLACK
    if log is not None:
        named = [
            k for k in log.kills if k[0] >= start and k[1] == pid and (not name or name[:15].startswith(k[2][:15]) or k[2].startswith(name[:15]))
        ]
        if named:
            return True, f"killed by the kernel's OOM killer (out of memory): the kernel log says {named[-1][3]!r}"
    moved: list[str] = []
    if before is not None:
        for label, was, now in (
            ("its cgroup's oom_kill counter", before.cgroups.get(cgroup or ""), after.cgroups.get(cgroup or "")),
            ("/proc/vmstat oom_kill", before.system, after.system),
        ):
            if was is None or now is None:
                continue
            if now == was:
                return False, f"killed by SIGKILL (not the OOM killer: its counter did not move: {label} stayed {now} since it was last seen alive)"
            moved.append(f"{label} rose by {now - was}")
    if log is not None and log.oldest is not None and log.oldest <= start:
        others = [k for k in log.kills if k[0] >= start]
        if not others:
            return False, "killed by SIGKILL (not the OOM killer: the kernel log has no OOM kill since it was last seen alive)"
        moved.append(f"the kernel log names other OOM kills ({', '.join(f'pid {k[1]} ({k[2]})' for k in others[-3:])}), not this pid")
    readable = "; ".join(moved) or "no OOM counter or kernel log is readable"
    return None, f"killed by SIGKILL (whether the OOM killer did it is not readable here: {readable})"
