"""Parsers of the ``/proc`` files that describe the whole system rather than one process
(the TCP and Unix socket tables of a network namespace, the mounts, the file locks), each a
pure function of the bytes read, as ``formats``' are: None or a skipped line for what does
not parse, never an exception for a malformed text."""

from __future__ import annotations

import ipaddress
from typing import Optional

from pooltui.capture.procfs.formats import SYSTEM_ROOT
from pooltui.model.record import Record

# --------------------------------------------------------------------------- net tables


def parse_tcp(raw: bytes) -> list[tuple[str, str, int]]:
    """(local address, remote address, inode) of each socket of a ``net/tcp{,6}`` table."""
    out = []
    for line in raw.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or not fields[9].isdigit() or len(fields[9]) > 20 or fields[9] == b"0":
            continue
        out.append((fields[1].decode("ascii", "replace"), fields[2].decode("ascii", "replace"), int(fields[9])))
    return out


def tcp_address(hexed: str) -> Optional[str]:
    """``0100007F:1F90`` (a ``net/tcp`` address as the kernel stores it: host-order 32-bit
    words, then the port) as ``127.0.0.1:8080``; IPv6 as ``[::1]:8080``; None when malformed."""
    addr, _, port = hexed.partition(":")
    try:
        raw = bytes.fromhex(addr)
        number = int(port, 16)
    except ValueError:
        return None
    if len(raw) == 4:
        return f"{ipaddress.IPv4Address(raw[::-1])}:{number}"
    if len(raw) == 16:
        ip = ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        return f"{ip.ipv4_mapped}:{number}" if ip.ipv4_mapped else f"[{ip}]:{number}"
    return None


def parse_unix_listeners(table: bytes) -> dict[int, str]:
    """inode -> path of the listening Unix sockets in the text of ``net/unix``."""
    out = {}
    for line in table.splitlines()[1:]:
        fields = line.split(None, 7)
        try:
            if len(fields) == 8 and int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
                out[int(fields[6])] = fields[7].decode("utf-8", "surrogateescape")
        except ValueError:
            continue
    return out


# --------------------------------------------------------------------------- mounts, file locks


def parse_mounts(raw: bytes) -> list[tuple[bytes, bytes, dict[bytes, bytes]]]:
    """(mount point, file system type, options) of each line of a ``mounts`` text."""
    out = []
    for line in raw.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            out.append((fields[1], fields[2], dict(o.partition(b"=")[::2] for o in fields[3].split(b","))))
    return out


def proc_mount_options(mounts: bytes) -> Optional[dict[bytes, bytes]]:
    """The options of the proc file system mounted at the system's /proc, from a mounts text."""
    point = SYSTEM_ROOT.encode()
    return next((options for at, kind, options in parse_mounts(mounts) if at == point and kind == b"proc"), None)


class FileLockEntry(Record, frozen=True):
    """One line of ``/proc/locks``: a lock on a file held (or, ``blocked``, waited for)."""

    id: int  # a waiter's line carries the id of the lock it is blocked behind
    blocked: bool  # a "->" line: a waiter, not a holder
    kind: str  # FLOCK, POSIX, OFDLCK, LEASE, DELEG
    exclusive: bool  # WRITE (else READ)
    pid: int  # the process that took it (-1: an OFD lock, recorded by no process)
    dev: tuple[int, int]  # (major, minor) of the file's device
    inode: int
    start: int
    end: Optional[int]  # None: EOF


def parse_locks(raw: bytes) -> list[FileLockEntry]:
    """The entries of a ``/proc/locks`` text ("1: -> POSIX  ADVISORY  WRITE 5 fe:00:1234 0 EOF");
    a line that does not parse is skipped."""
    out = []
    for line in raw.splitlines():
        words = line.split()
        blocked = len(words) > 1 and words[1] == b"->"
        if blocked:
            del words[1]
        if len(words) < 8 or not words[0].endswith(b":"):
            continue
        try:
            major, minor, inode = words[5].split(b":")
            entry = FileLockEntry(
                id=int(words[0][:-1]),
                blocked=blocked,
                kind=words[1].decode("ascii"),
                exclusive=words[3] == b"WRITE",
                pid=int(words[4]),
                dev=(int(major, 16), int(minor, 16)),
                inode=int(inode),
                start=int(words[6]),
                end=None if words[7] == b"EOF" else int(words[7]),
            )
        except (ValueError, UnicodeDecodeError):
            continue
        out.append(entry)
    return out
