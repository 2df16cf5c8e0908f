"""Which process is at the other end of a Unix socket (a Manager client's connection).

The kernel tells a Unix socket's peer only through the sock_diag netlink interface
(what ``ss -xp`` uses): one dump request gives, for every Unix socket, its inode and its
peer's inode. A process's sockets are its ``/proc/PID/fd`` links ``socket:[INODE]``.
Read-only, bounded in bytes and time; any failure gives "unknown", never an exception.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import CaptureError

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
UDIAG_SHOW_PEER = 0x4
UNIX_DIAG_PEER = 2
_MAX_BYTES = 32 << 20
_TIMEOUT = 2.0


def unix_peers() -> dict[int, int]:
    """inode -> peer inode of every connected Unix socket on the host ({} if unreadable)."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except OSError:
        return {}
    peers: dict[int, int] = {}
    try:
        sock.settimeout(_TIMEOUT)
        req = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, UDIAG_SHOW_PEER, 0xFFFFFFFF, 0xFFFFFFFF)
        sock.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req)
        received = 0
        while received < _MAX_BYTES:
            data = sock.recv(1 << 16)
            if not data:
                break
            received += len(data)
            if _parse(data, peers):
                break
    except OSError:
        return {}
    finally:
        sock.close()
    return peers


def _parse(data: bytes, peers: dict[int, int]) -> bool:
    """Add one netlink batch's sockets to ``peers``; True once the dump is done."""
    pos = 0
    while pos + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, pos)
        if length < 16 or pos + length > len(data):
            return True
        if kind in (NLMSG_DONE, NLMSG_ERROR):
            return True
        body = pos + 16
        if kind == SOCK_DIAG_BY_FAMILY and length >= 32:
            inode = struct.unpack_from("=I", data, body + 4)[0]
            attr = body + 16
            while attr + 4 <= pos + length:
                alen, atype = struct.unpack_from("=HH", data, attr)
                if alen < 4:
                    break
                if atype == UNIX_DIAG_PEER and alen >= 8:
                    peers[inode] = struct.unpack_from("=I", data, attr + 4)[0]
                attr += (alen + 3) & ~3
        pos += (length + 3) & ~3
    return False


def socket_inode(pid: int, fd: int) -> Optional[int]:
    return procfs.fd_inode(pid, fd, "socket")


def socket_owners(pids: Iterable[int], inodes: set[int]) -> dict[int, int]:
    """inode -> pid, for the sockets among ``inodes`` that ``pids`` have open."""
    out: dict[int, int] = {}
    for pid in pids:
        try:
            fds = procfs.fds(pid)
        except CaptureError:
            continue
        for fd in fds:
            inode = socket_inode(pid, int(fd)) if fd.isdigit() else None
            if inode in inodes:
                out[inode] = pid  # type: ignore[index]
    return out
