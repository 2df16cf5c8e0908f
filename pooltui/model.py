"""The one data shape: frozen dataclasses for everything pooltui captures and concludes.

A ``Snapshot`` is the whole tree at one instant; a ``Timeline`` is snapshots plus
events. ``to_dict``/``from_dict`` give the versioned JSON form (``pooltui.report/1``)
used to save, replay, diff and as test fixtures. Writing and loading use msgspec, which
encodes these stdlib dataclasses directly and validates every field against their
annotations on load; any problem is a one-line ``ReportError``.

Fields mirror py-spy's JSON (thread_id/os_thread_id/frames) and psutil's process
fields. A process is identified by ``(pid, create_time)``, as psutil does, so a
reused pid is never mistaken for the process that had it before.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cache
from typing import Any, Optional

SCHEMA = "pooltui.report/1"
MAX_REPORT_BYTES = 100 * 1024 * 1024
LATEST_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: the last instant datetime can show
MAX_ID = 2**31 - 1  # pids and tids (Linux's PID_MAX_LIMIT is 2**22)
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """``text`` with lone surrogates (bytes that were not UTF-8, kept by surrogateescape in
    argv, comm, file names) as ``\\xNN`` (other lone surrogates as ``\\udNNN``): printable,
    encodable, and unambiguous about what was there."""
    if not _SURROGATE.search(text):
        return text

    def shown(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(shown, text)


class ReportError(ValueError):
    """A report file could not be loaded; the message is one line a user can act on."""


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class WaitKind(str, Enum):
    """What a thread is doing, judged from its innermost frames."""

    RUNNING = "running"
    LOCK = "lock"
    RLOCK = "rlock"
    SEMLOCK = "semlock"
    CONDITION = "condition"
    EVENT = "event"
    QUEUE_GET = "queue_get"
    QUEUE_PUT = "queue_put"  # a full queue: put() waits for a slot (a multiprocessing.Queue's semaphore)
    PIPE_READ = "pipe_read"
    PIPE_WRITE = "pipe_write"  # blocked in write(): the pipe is full and nobody reads it
    MANAGER_CALL = "manager_call"
    JOIN = "join"
    SLEEP = "sleep"
    SELECT = "select"
    IDLE = "idle"
    GIL = "gil"
    UNKNOWN = "unknown"

    @property
    def is_lock(self) -> bool:
        return self in (WaitKind.LOCK, WaitKind.RLOCK, WaitKind.SEMLOCK)


@dataclass(frozen=True)
class Local:
    """One local variable of a frame as py-spy --locals shows it."""

    name: str
    repr: str = ""
    addr: Optional[int] = None
    arg: bool = False


@dataclass(frozen=True)
class Frame:
    """One Python (or native) frame. Stacks are stored innermost first, as py-spy gives them."""

    function: str
    file: str
    line: int = 0
    short_file: str = ""
    module: Optional[str] = None
    locals: Optional[tuple[Local, ...]] = None
    native: bool = False
    code: Optional[str] = None  # the source line, read from the target's file system at capture time
    code_note: Optional[str] = None  # why the source line was not read ("source not read: it is a FIFO, ...")

    @property
    def where(self) -> str:
        return f"{self.short_file or self.file}:{self.line}"

    def local(self, name: str) -> Optional[Local]:
        for loc in self.locals or ():
            if loc.name == name:
                return loc
        return None


@dataclass(frozen=True)
class Wait:
    """What a thread waits on, in words, plus the facts behind it."""

    kind: WaitKind
    summary: str
    frame_index: Optional[int] = None  # index into Thread.frames of the user's frame named in the summary
    lock_id: Optional[str] = None  # Lock.id when the lock object is known
    holder: Optional[str] = None  # one-line description of the holder, when known

    @property
    def unsaid_holder(self) -> str:
        """The holder, when the summary does not already name it ("" otherwise)."""
        return self.holder if self.holder and self.holder not in self.summary else ""


@dataclass(frozen=True)
class Thread:
    """One Python thread. ``tid`` is the OS thread id, ``ident`` the pthread id (threading.get_ident)."""

    tid: int
    ident: int
    name: Optional[str] = None
    role: str = "thread"
    active: bool = False
    owns_gil: bool = False
    frames: tuple[Frame, ...] = ()
    wait: Optional[Wait] = None
    futex: Optional[int] = None  # address the thread sleeps on (/proc/PID/task/TID/syscall), when blocked in futex
    cpu_time: Optional[float] = None  # user+system seconds of this thread (/proc), for stuck/busy judgements
    ghost: bool = False  # a thread state with no OS thread: copied from the parent at fork() (2.7 keeps them)
    switches: Optional[int] = None  # voluntary + involuntary context switches (/proc): unchanged = not scheduled
    syscall: Optional[str] = None  # the system call it is blocked in (/proc/PID/task/TID/syscall): futex, read, write, poll...
    timed: Optional[bool] = None  # that call has a timeout (a timed wait ends by itself): None = unknown
    fd: Optional[int] = None  # the file descriptor of a blocked read()/write()/recv()/send()
    child: Optional[int] = None  # the pid a blocked wait4() waits for (Process.join, subprocess wait)
    joins: Optional[int] = None  # the ident of the thread a blocked Thread.join() waits for (read from the Thread object)
    polls: Optional[tuple[int, ...]] = None  # the fds a blocked select/poll/epoll watches (read when a thread waits on a socket or pipe)

    @property
    def label(self) -> str:
        return self.name or f"Thread {self.tid}"


@dataclass(frozen=True)
class ProcError:
    """Why a process could not be read (see capture.errors for the codes)."""

    code: str
    message: str
    help: str = ""
    detail: str = ""


@dataclass(frozen=True)
class PipeEnd:
    """One pipe file descriptor of a process: ``pipe:[inode]`` and which end (fdinfo flags)."""

    fd: int
    inode: int
    writes: bool  # the write end (O_WRONLY), else the read end


@dataclass(frozen=True)
class SocketEnd:
    """One socket file descriptor of a process: ``socket:[inode]`` and its peer's inode
    (a Unix socket's from sock_diag, a TCP connection's by its two addresses swapped)."""

    fd: int
    inode: int
    peer: Optional[int] = None  # None: not connected, or the peer is not known


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    create_time: float
    name: str = ""
    cmdline: tuple[str, ...] = ()
    status: str = ""
    role: str = "other"
    role_index: Optional[int] = None
    python: Optional[str] = None  # "3.11" as read from the interpreter binary, None when not Python
    cpu_percent: Optional[float] = None
    cpu_time: Optional[float] = None  # user+system seconds
    rss: Optional[int] = None
    num_threads: int = 0
    threads: tuple[Thread, ...] = ()
    error: Optional[ProcError] = None
    reused: bool = False  # stacks carried over from the previous dump (no thread ran since)
    exit_code: Optional[int] = None  # a wait status: a zombie's (/proc/PID/stat field 52) or the kernel's at exit (Exit)
    tracer_pid: Optional[int] = None  # TracerPid (/proc/PID/status): a debugger (or strace) holds it, when not 0
    pipes: tuple[PipeEnd, ...] = ()  # its pipe file descriptors, read when a thread of the tree is blocked on a pipe
    sockets: tuple[SocketEnd, ...] = ()  # its socket file descriptors, read when a thread of the tree is blocked on a socket or pipe

    @property
    def stopped(self) -> bool:
        """Stopped by a signal (SIGSTOP, ctrl-z) or held by a tracer: none of its threads runs."""
        return self.status in ("stopped", "tracing-stop")

    @property
    def exit_text(self) -> str:
        """How the process ended, as far as it is knowable."""
        return exit_text(self.exit_code)

    @property
    def key(self) -> tuple[int, float]:
        return (self.pid, self.create_time)

    @property
    def role_label(self) -> str:
        return self.role if self.role_index is None else f"{self.role} #{self.role_index}"

    def thread(self, tid: int) -> Optional[Thread]:
        for t in self.threads:
            if t.tid == tid:
                return t
        return None


def exit_text(status: Optional[int]) -> str:
    """A wait status in words: "killed by SIGKILL", "exit code 1", or "exit status unknown"."""
    if status is None:
        return "exit status unknown"
    sig = status & 0x7F
    if sig:
        import signal

        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"killed by {name}" + (" (core dumped)" if status & 0x80 else "")
    return f"exit code {(status >> 8) & 0xFF}"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    tid: Optional[int] = None
    ident: Optional[int] = None
    thread_name: Optional[str] = None
    alive: bool = True  # False: the holder thread/process does not exist (orphaned / dead holder)
    how: str = "recorded owner"  # how it is known: HOW_OWNER (a fact read from the lock) | HOW_WITH | HOW_INFERRED
    evidence: str = ""  # for an inferred holder: what points at it ("past FLUSH_LOCK.acquire() at app.py:32")


HOW_OWNER = "recorded owner"  # RLock owner ident, SemLock count/last_tid: read from the lock object
HOW_WITH = "held by a with block"  # the holder's frame is inside `with X:` (its value stack holds X.__exit__)
HOW_INFERRED = "inferred"  # from the stacks and source lines only: "could hold", never a fact


@dataclass(frozen=True)
class ManagerClient:
    """A client connection of a multiprocessing Manager, as its server thread shows it."""

    name: str  # how the Manager names the client: its process name (+ "|thread name")
    server_tid: int  # the Manager's thread serving this connection
    last_call: str = ""  # its last request on the lock (acquire, release...), "" for another object
    result: str = ""  # what that request returned (py-spy's repr)
    waiting: bool = False  # the server thread is running that request now (blocked in it)
    pid: Optional[int] = None  # the client process, when its end of the connection was found


@dataclass(frozen=True)
class ManagerObject:
    """A Manager's shared object (a Lock on the server) and the clients connected to it."""

    ident: str  # the object's id in the Manager (a proxy's ``_id``)
    typeid: str = ""  # Lock, RLock...
    clients: tuple[ManagerClient, ...] = ()


@dataclass(frozen=True)
class Lock:
    """A lock object read from a target's memory, with what is known of its holder and waiters."""

    id: str
    kind: str  # lock | rlock | semlock
    name: str  # as the user would name it: "Reporter.lock", "multiprocessing.Lock LOCK"
    pid: int  # process whose memory the object was read from
    addr: int
    type_name: str = ""  # CPython type: _thread.RLock, _thread.lock, _multiprocessing.SemLock, _RLock (2.7)
    sem: Optional[str] = None  # the OS semaphore under it: "shm:DEV:INODE" (shared across processes) or "mem:PID:ADDR"
    sem_value: Optional[int] = None  # 0 = taken
    semlock_kind: Optional[str] = None  # RECURSIVE_MUTEX (mp.RLock) | SEMAPHORE (mp.Lock, Semaphore)
    maxvalue: Optional[int] = None  # SemLock: 1 for Lock/RLock, N for BoundedSemaphore(N), SEM_VALUE_MAX for Semaphore
    locked: Optional[bool] = None
    count: Optional[int] = None
    owner_ident: Optional[int] = None
    holder: Optional[LockHolder] = None
    holders: tuple[LockHolder, ...] = ()  # every holder when several can hold it (a multiprocessing Semaphore); holder is the first
    waiters: tuple[tuple[int, int], ...] = ()  # (pid, tid)
    could_hold: tuple[LockHolder, ...] = ()  # threads that may hold a lock with no recorded owner (how=HOW_INFERRED, evidence)
    with_frames: tuple[tuple[str, str], ...] = ()  # (file, function) of frames whose value stack holds its __exit__: inside `with` it
    with_exits: Optional[int] = None  # live __exit__ objects of it: threads inside or entering a `with` of it (None: not read)
    orphaned: bool = False
    manager: Optional[ManagerObject] = None  # a Manager's Lock: its id and the clients' last requests
    where: str = ""  # file:line where it was seen (the waiting frame)
    note: str = ""  # what stays unknowable, in words
    confirmed: Optional[bool] = None  # a holder-less taken semaphore read again a moment later: still so (True) or not


class Kind(str, Enum):
    """What a verdict says. Its severity follows from the kind (``SEVERITY``), never from
    the code that found it."""

    DEADLOCK = "deadlock_cycle"  # a cycle of waits: locks, futures, joins, pool results, pipes
    ORPHANED_LOCK = "orphaned_lock"  # inherited locked across fork() from a thread the child lacks
    DEAD_HOLDER = "dead_holder"  # a multiprocessing lock taken by a process that died
    LOST_TASK = "lost_task"  # a worker died mid-task; the pool never resends it
    POOL_HUNG = "pool_hung"  # the parent waits for results no worker will produce
    CRASH_LOOP = "crash_loop"  # workers die at start and are respawned forever
    MANAGER_GONE = "manager_gone"  # the Manager server is gone and clients still use it
    STOPPED_HOLDS_POOL = "stopped_holds_pool"  # a stopped/traced process others wait on
    LOCK_CONTENTION = "lock_contention"
    OVERSUBSCRIBED = "oversubscribed"
    STUCK_THREAD = "stuck_thread"
    UNREADABLE = "unreadable"
    MANAGER_EXITED = "manager_exited"  # the Manager server exited; no client is seen waiting on it
    PROCESS_STOPPED = "process_stopped"  # stopped (SIGSTOP) or held by a debugger; nothing waits on it
    BUSY_SPIN = "busy_spin"
    ABANDONED_LOCK = "abandoned_lock"  # a Manager lock no connected client can release (its holder's task ended / it left)
    BLOCKED_EVENT_LOOP = "blocked_event_loop"  # an asyncio loop's thread blocked in a synchronous lock

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Certainty(str, Enum):
    """How a verdict is known: read from memory or the kernel; from the frame (a ``with``
    block's line); inferred from the shape of the stacks; or a guess."""

    FACT = "fact"
    FRAME = "from the frame"
    INFERRED = "inferred"
    GUESS = "guess"

    @property
    def rank(self) -> int:
        return ("fact", "from the frame", "inferred", "guess").index(self.value)


# The severity rules, written once. error: the pool cannot finish without someone acting;
# warning: likely a problem; info: a fact worth knowing. A guess is one step lower.
SEVERITY = {
    **dict.fromkeys(
        (
            Kind.DEADLOCK,
            Kind.ORPHANED_LOCK,
            Kind.DEAD_HOLDER,
            Kind.LOST_TASK,
            Kind.POOL_HUNG,
            Kind.CRASH_LOOP,
            Kind.MANAGER_GONE,
            Kind.STOPPED_HOLDS_POOL,
            Kind.ABANDONED_LOCK,
        ),
        Severity.ERROR,
    ),
    **dict.fromkeys(
        (
            Kind.LOCK_CONTENTION,
            Kind.OVERSUBSCRIBED,
            Kind.STUCK_THREAD,
            Kind.UNREADABLE,
            Kind.MANAGER_EXITED,
            Kind.PROCESS_STOPPED,
            Kind.BLOCKED_EVENT_LOOP,
        ),
        Severity.WARNING,
    ),
    Kind.BUSY_SPIN: Severity.INFO,
}


def severity_of(kind: Kind, certainty: Certainty) -> Severity:
    base = SEVERITY[kind]
    if certainty is Certainty.GUESS and base is not Severity.INFO:
        return Severity.WARNING if base is Severity.ERROR else Severity.INFO
    return base


def pids_key(pids: Iterable[int]) -> str:
    """A subject key naming processes: "pids 12,13" (sorted, so one set is one key)."""
    return "pids " + ",".join(str(p) for p in sorted(set(pids)))


@dataclass(frozen=True)
class Diagnosis:
    """A verdict. ``severity`` follows from ``kind`` and ``certainty`` (``severity_of``)
    when not given; a loaded report keeps the severity it was saved with. ``subject``:
    what it is about, as a key ("lock shm:0:42", "pids 12,13"); ``over_time``: told from
    a series of samples (a death seen happen), not from one."""

    kind: Kind
    severity: Severity = None  # type: ignore[assignment]  # filled by __post_init__
    summary: str = ""
    pids: tuple[int, ...] = ()
    tids: tuple[int, ...] = ()
    evidence: tuple[str, ...] = ()
    fix: str = ""
    certainty: Certainty = Certainty.INFERRED
    subject: str = ""
    over_time: bool = False

    def __post_init__(self) -> None:
        if self.severity is None:
            object.__setattr__(self, "severity", severity_of(self.kind, self.certainty))


@dataclass(frozen=True)
class Event:
    time: float
    kind: str  # process_new | process_exited | worker_replaced | thread_new | thread_gone | role_changed
    pid: int
    detail: str = ""


@dataclass(frozen=True)
class Exit:
    """A process's end as the kernel reported it when it happened (capture.exits): known
    even after its parent reaped it, which /proc no longer shows."""

    pid: int
    status: int  # a wait status: signal = & 0x7f, code = >> 8 (exit_text)
    at: float  # wall-clock time
    ppid: Optional[int] = None  # its parent (Linux >= 4.18)


@dataclass(frozen=True)
class Snapshot:
    created: float
    host: str
    root_pid: int
    processes: tuple[Process, ...] = ()
    locks: tuple[Lock, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    events: tuple[Event, ...] = ()
    tools: dict[str, str] = field(default_factory=dict)
    options: dict[str, bool] = field(default_factory=dict)
    cpu_count: Optional[int] = None
    notes: tuple[str, ...] = ()  # what could not be read or is unknowable, in words (e.g. lock state on 3.14)
    exits: tuple[Exit, ...] = ()  # exits the kernel reported since the previous capture, of this tree's processes

    def process(self, pid: int) -> Optional[Process]:
        for p in self.processes:
            if p.pid == pid:
                return p
        return None

    def children(self, pid: int) -> list[Process]:
        return [p for p in self.processes if p.ppid == pid and p.pid != pid]

    def with_(self, **changes: Any) -> Snapshot:
        return replace(self, **changes)


@dataclass(frozen=True)
class Timeline:
    snapshots: tuple[Snapshot, ...] = ()
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Report:
    """The saved file: one snapshot (the last) and, optionally, the timeline it ends."""

    schema: str
    snapshot: Snapshot
    timeline: Optional[Timeline] = None


@cache
def _encoder() -> Any:
    import msgspec  # imported when a report is written or read, never for a capture alone

    return msgspec.json.Encoder()


def to_dict(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> dict[str, Any]:
    """The JSON-ready form of a report: dataclasses as objects, enums as their values,
    tuples as lists (msgspec, which reads the dataclasses' fields directly)."""
    import msgspec

    return msgspec.to_builtins(Report(SCHEMA, snapshot, timeline))


def _where(path: str) -> str:
    """msgspec's ``$.snapshot.processes[0].pid`` as ``snapshot.processes.0.pid``."""
    return re.sub(r"\[(\d+)\]", r".\1", path).lstrip("$.")


def from_dict(data: Any) -> Report:
    """Validate a decoded report (msgspec, against the dataclasses' own annotations);
    any problem becomes a one-line ReportError."""
    import msgspec

    if not isinstance(data, dict):
        raise ReportError(f"not a pooltui report: top level is {type(data).__name__}, expected an object")
    schema = data.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("pooltui.report/"):
            raise ReportError(f"report schema {schema!r} is not supported by this pooltui (reads {SCHEMA})")
        raise ReportError(f"not a pooltui report: schema is {schema!r}, expected {SCHEMA!r}")
    try:
        return msgspec.convert(data, Report)
    except msgspec.ValidationError as exc:
        text = " ".join(str(exc).split())
        message, _, path = text.partition(" - at `")
        where = _where(path.rstrip("`"))
        missing = re.fullmatch(r"Object missing required field `(.*)`", message)
        if missing:
            where, message = ".".join(w for w in (where, missing.group(1)) if w), "field required"
        raise ReportError(f"invalid report: {where or 'top level'}: {message}") from None
    except RecursionError:
        raise ReportError("not a pooltui report: nested too deeply") from None
    except UnicodeError:  # a field name with a lone surrogate (\udcNN escape): msgspec matches names as UTF-8
        raise ReportError("not a pooltui report: a field name that is not text") from None


def dumps(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> str:
    """The report as JSON text, indented by one space: byte for byte what ``json.dumps(to_dict(...),
    indent=1, ensure_ascii=False)`` gives, ~30x faster (msgspec encodes the dataclasses as they
    are, no ``asdict`` copy). A value msgspec refuses (an int beyond 64 bits, a lone surrogate)
    takes the standard library's way, which then decides."""
    import msgspec

    report = Report(SCHEMA, snapshot, timeline)
    try:
        return msgspec.json.format(_encoder().encode(report), indent=1).decode("utf-8") + "\n"
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return json.dumps(msgspec.to_builtins(report), indent=1, ensure_ascii=False) + "\n"


def _no_constant(name: str) -> Any:
    raise ReportError(f"not a pooltui report: {name} is not a value a report holds")


def _check_numbers(report: Report) -> Report:
    """Values the schema's types allow but no capture produces, which would break showing
    the report: times outside 1970..9999 (or not finite), pids and tids out of range, a
    pid twice in one snapshot."""
    snapshots = (report.snapshot, *(report.timeline.snapshots if report.timeline else ()))
    events = tuple(e for s in snapshots for e in s.events) + (report.timeline.events if report.timeline else ())
    times = [("created", s.created) for s in snapshots]
    times += [("create_time", p.create_time) for s in snapshots for p in s.processes]
    times += [("event time", e.time) for e in events] + [("exit time", x.at) for s in snapshots for x in s.exits]
    for name, value in times:
        if not (math.isfinite(value) and 0 <= value <= LATEST_TIME):
            raise ReportError(f"invalid report: {name} {value!r} is not a time between 1970 and 9999")
    ids = [("root_pid", s.root_pid) for s in snapshots]
    ids += [(name, v) for s in snapshots for p in s.processes for name, v in (("pid", p.pid), ("ppid", p.ppid))]
    ids += [("tid", t.tid) for s in snapshots for p in s.processes for t in p.threads]
    for name, value in ids:
        if not 0 <= value <= MAX_ID:
            raise ReportError(f"invalid report: {name} {value} is not a process or thread id")
    for s in snapshots:  # one instant of one tree: a pid is one process
        pids = [p.pid for p in s.processes]
        if len(set(pids)) != len(pids):
            twice = next(pid for pid in pids if pids.count(pid) > 1)
            raise ReportError(f"invalid report: pid {twice} appears twice in one snapshot")
    return report


def loads(text: str) -> Report:
    if not text.strip():
        raise ReportError("empty file, not a pooltui report")
    try:
        data = json.loads(text, parse_constant=_no_constant)  # NaN, Infinity: never written by pooltui
    except ReportError:
        raise
    except json.JSONDecodeError as exc:
        raise ReportError(f"not JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ReportError("not a pooltui report: JSON nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ReportError(f"not a pooltui report: {exc}") from None
    return _check_numbers(from_dict(data))
