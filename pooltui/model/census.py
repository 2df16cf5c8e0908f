"""What `pooltui ps` knows of the box: every Python process read from /proc in one cheap
pass (``Census``: kernel facts only, no stacks, no memory), and what the analysis makes of
it (``PsTree``: one row per process tree, with its roles and a cheap verdict).

The census is also the recorded form of the unit tests' fixtures (``census_dumps`` /
``census_loads``: ``pooltui.census/1``, validated on load like a report).
"""

from __future__ import annotations

from typing import Any, Optional

from pooltui.model.record import Record

CENSUS_SCHEMA = "pooltui.census/1"
PS_SCHEMA = "pooltui.ps/1"

# what a thread asleep in the kernel waits on, from /proc/PID/task/TID/syscall (and the fd it reads)
WAIT_FUTEX = "futex"  # a process-private lock, condition, event or semaphore (threading), no timeout
WAIT_SHARED_FUTEX = "shared futex"  # a lock shared between processes (multiprocessing Lock, Semaphore), no timeout
WAIT_PIPE = "pipe read"
WAIT_SOCKET = "socket read"
WAIT_CHILD = "child exit"  # wait4/waitid: join() of a process, subprocess.wait()
WAIT_TERMINAL = "terminal input"
WAIT_ACCEPT = "accept"
WAIT_POLL = "poll"  # select/poll/epoll without a timeout: an event loop with nothing to do
WAIT_TIMED = "timed"  # sleep, or any wait with a timeout: it wakes up by itself
WAIT_OTHER = "other"
WAIT_UNKNOWN = ""  # running, or the syscall file could not be read
# waits that end only when another thread or process acts: the shape of a hang
UNTIMED_BLOCKS = (WAIT_FUTEX, WAIT_SHARED_FUTEX, WAIT_PIPE, WAIT_SOCKET, WAIT_CHILD)


class TaskFacts(Record, frozen=True):
    """One thread at the two reads of the census window."""

    tid: int
    state: str  # the kernel's state letter at the first read (R, S, D, T, t, Z)
    state_after: str  # ... and at the second
    switches: int  # voluntary + nonvoluntary context switches at the first read
    switches_after: int
    wait: str = WAIT_UNKNOWN  # one of the WAIT_* kinds at the second read, for a thread asleep then
    wait_before: str = WAIT_UNKNOWN  # ... and at the first read

    @property
    def ran(self) -> bool:
        """Scheduled in the window: running or runnable at a read, or switched in and out."""
        return "R" in (self.state, self.state_after) or self.switches != self.switches_after


class ProcFacts(Record, frozen=True):
    """One process: what the kernel says of it, and whether it runs Python."""

    pid: int
    ppid: int
    create_time: float  # seconds since the epoch
    comm: str = ""
    exe: str = ""
    cmdline: tuple[str, ...] = ()
    python: Optional[str] = None  # "3.11", "3" or "?" (Python, version unknown); None: not Python (or unknown, see error)
    python_from: str = ""  # "exe" (the executable's name) or "maps" (libpython / a cpython-3X module mapped)
    state: str = ""  # the kernel's state letter of the process (its main thread) at the second read
    cpu_seconds: float = 0.0  # user + system, at the second read
    cpu_gained: float = 0.0  # user + system seconds used during the window
    joins_parent: bool = False  # runs the same program as its parent (fork child, mp bootstrap, server worker)
    exit_code: Optional[int] = None  # a zombie's wait status
    tasks: tuple[TaskFacts, ...] = ()
    listening: tuple[str, ...] = ()  # Unix socket paths it accepts on (read only when a thread is in accept())
    error: str = ""  # why it could not be read: "permission", "gone"
    error_message: str = ""


class Census(Record, frozen=True):
    """Every Python process on the box at one instant (two reads ``window`` seconds apart)."""

    schema: str
    taken: float  # seconds since the epoch, at the first read
    host: str
    window: float
    cpus: int
    processes: tuple[ProcFacts, ...] = ()
    vanished: int = 0  # processes that exited before anything could be read of them
    unchecked: int = 0  # processes not readable enough to tell whether they run Python (listed when they may)
    notes: tuple[str, ...] = ()  # what could not be seen at all, in words (/proc mounted with hidepid)


class RoleCount(Record, frozen=True):
    role: str
    count: int


class Verdict(Record, frozen=True):
    """The cheap look at one tree: kernel facts only (see ``basis``), never a stack."""

    kind: str  # "looks_hung", "zombies", "stopped", "oversubscribed"
    text: str
    hung: bool  # worth a real look now: shown marked


class PsTree(Record, frozen=True):
    """One row of `pooltui ps`: a process tree (or a process it could not read)."""

    root_pid: int
    program: str  # short; raw (escape it where shown)
    python: Optional[str]
    pids: tuple[int, ...]
    roles: tuple[RoleCount, ...]
    state: str  # "running", "sleeping", "stopped", "zombie", "unreadable"
    cpu_percent: float
    age: float  # seconds since the root started
    verdicts: tuple[Verdict, ...] = ()
    error: str = ""
    error_message: str = ""

    @property
    def hung(self) -> bool:
        return any(v.hung for v in self.verdicts)

    @property
    def verdict(self) -> Optional[Verdict]:
        """The verdict shown on the tree's one line: a hung-looking one first."""
        ordered = sorted(self.verdicts, key=lambda v: not v.hung)
        return ordered[0] if ordered else None


class CensusError(ValueError):
    """A census file could not be loaded; the message is one line."""


def census_dumps(census: Census) -> bytes:
    import msgspec

    return msgspec.json.encode(census)


def census_loads(data: bytes) -> Census:
    import msgspec

    try:
        census = msgspec.json.decode(data, type=Census)
    except msgspec.ValidationError as exc:
        raise CensusError(f"not a pooltui census: {exc}") from None
    except msgspec.DecodeError as exc:
        raise CensusError(f"not JSON: {exc}") from None
    if census.schema != CENSUS_SCHEMA:
        raise CensusError(f"census schema {census.schema!r}, expected {CENSUS_SCHEMA}")
    return census


def to_plain(value: Any) -> Any:
    """A model dataclass as JSON-ready dicts and lists (the `ps --format json` shape)."""
    import msgspec

    return msgspec.to_builtins(value)
