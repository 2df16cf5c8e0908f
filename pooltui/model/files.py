"""What the kernel says about a process's files that a wait is on: the system calls that
block on one, its pipe and socket ends (``Process.pipes``/``sockets``), and the lock on a file
a thread waits for (``Thread.file_lock``)."""

from __future__ import annotations

from typing import Optional

from pooltui.model.record import Record


class FileLockWait(Record, frozen=True):
    """The lock on a file a thread blocked in ``flock()`` or ``fcntl(F_SETLKW)`` waits for,
    from the kernel's table of file locks (``/proc/locks``): who holds the locks in its way."""

    kind: str  # "flock" (flock(), whole file), "posix" (fcntl/lockf record locks: a byte range), "ofd" (open file description locks)
    exclusive: bool  # it asks to write-lock (LOCK_EX, F_WRLCK); else a shared lock, blocked by a writer
    path: str = ""  # the file, as the waiter's fd links it ("" when not readable)
    holders: tuple[int, ...] = ()  # pids the kernel lists as holding a lock in its way (-1: an OFD lock, whose holder is not recorded)
    start: int = 0  # a record lock's first byte
    end: Optional[int] = None  # its last byte; None: to the end of the file


# the system calls that wait for a lock on a file (``Thread.file_lock``)
FILE_LOCK_CALLS = ("flock", "fcntl")

# the system calls that block reading or writing one pipe or socket (``Thread.fd``)
FD_CALLS = ("read", "write", "readv", "writev", "recvfrom", "recvmsg", "sendto", "sendmsg")
WRITE_CALLS = ("write", "writev", "sendto", "sendmsg")
# the system calls that wait on a set of fds (``Thread.polls``)
POLL_CALLS = ("select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait")


class PipeEnd(Record, frozen=True):
    """One pipe file descriptor of a process: ``pipe:[inode]`` and which end (fdinfo flags)."""

    fd: int
    inode: int
    writes: bool  # the write end (O_WRONLY), else the read end
    # the processes outside the tree that hold the other end (a scan of the whole box, done only
    # when a thread is blocked on this end whose other end its own process holds and no other
    # process of the tree does); None: not scanned, or the scan could not read every process
    elsewhere: Optional[tuple[int, ...]] = None


class SocketEnd(Record, frozen=True):
    """One socket file descriptor of a process: ``socket:[inode]`` and its peer's inode
    (a Unix socket's from sock_diag, a TCP connection's by its two addresses swapped)."""

    fd: int
    inode: int
    peer: Optional[int] = None  # None: not connected, or the peer is not known
    remote: Optional[str] = None  # a TCP connection's other address ("10.1.2.3:5432", "[::1]:80"); None: not TCP
    elsewhere: Optional[tuple[int, ...]] = None  # as PipeEnd.elsewhere: who outside the tree holds the peer
