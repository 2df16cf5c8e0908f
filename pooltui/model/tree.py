"""The captured tree: processes (psutil's fields), their threads and frames (py-spy's
JSON), what each thread waits on, the lock objects read from memory, and the ``Snapshot``
of the whole tree at one instant. A process is identified by ``(pid, create_time)``."""

from __future__ import annotations

from enum import Enum
from typing import Any, Optional

from pooltui.model.files import FILE_LOCK_CALLS, FileLockWait, PipeEnd, SocketEnd
from pooltui.model.record import Record, field, force_setattr, replace
from pooltui.model.verdicts import Diagnosis
from pooltui.model.words import ProcessRole, ProcessStatus, ThreadRole, Word


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
    FILE_LOCK = "file_lock"  # blocked in flock() or fcntl(F_SETLKW): a lock on a file, held by another open file or process
    UNKNOWN = "unknown"

    @property
    def is_lock(self) -> bool:
        return self in (WaitKind.LOCK, WaitKind.RLOCK, WaitKind.SEMLOCK)


class Local(Record, frozen=True):
    """One local variable of a frame as py-spy --locals shows it."""

    name: str
    repr: str = ""
    addr: Optional[int] = None
    arg: bool = False


class Frame(Record, frozen=True):
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


class Wait(Record, frozen=True):
    """What a thread waits on, in words, plus the facts behind it."""

    kind: WaitKind
    summary: str
    frame_index: Optional[int] = None  # index into Thread.frames of the user's frame named in the summary
    lock_id: Optional[str] = None  # Lock.id when the lock object is known
    holder: Optional[str] = None  # one-line description of the holder, when known
    # facts the summary also says, kept as fields so that code asks them, not the wording:
    coroutine: Optional[str] = None  # the coroutine an asyncio loop is blocked in (the summary starts "the event loop is blocked")
    far: Optional[str] = None  # the other end of the pipe or socket, outside the tree (the summary ends "; waits to read from ...")

    def reworded(self, **changes: Any) -> Wait:
        """This wait with its summary written anew (``changes``): the facts only the old
        summary said (``coroutine``, ``far``) go with it, for whoever adds them to add again."""
        return replace(self, coroutine=None, far=None, **changes)

    @property
    def unsaid_holder(self) -> str:
        """The holder, when the summary does not already name it ("" otherwise)."""
        return self.holder if self.holder and self.holder not in self.summary else ""


class Thread(Record, frozen=True):
    """One Python thread. ``tid`` is the OS thread id, ``ident`` the pthread id (threading.get_ident)."""

    tid: int
    ident: int
    name: Optional[str] = None
    role: str = ThreadRole.THREAD  # a ThreadRole; a str, so that any saved word loads (model.words)
    active: bool = False
    owns_gil: bool = False
    frames: tuple[Frame, ...] = ()
    wait: Optional[Wait] = None
    futex: Optional[int] = None  # address the thread sleeps on (/proc/PID/task/TID/syscall), when blocked in futex
    # that futex is process-shared (no FUTEX_PRIVATE_FLAG: a multiprocessing semaphore in shared
    # memory, which another process may post); False: private, only a thread of its own process can wake it
    futex_shared: Optional[bool] = None
    cpu_time: Optional[float] = None  # user+system seconds of this thread (/proc), for stuck/busy judgements
    ghost: bool = False  # a thread state with no OS thread: copied from the parent at fork() (2.7 keeps them)
    switches: Optional[int] = None  # voluntary + involuntary context switches (/proc): unchanged = not scheduled
    blocked: Optional[int] = None  # voluntary context switches alone: how often it blocked (a spinning thread hardly ever does)
    syscall: Optional[str] = None  # the system call it is blocked in (/proc/PID/task/TID/syscall): futex, read, write, poll...
    timed: Optional[bool] = None  # that call has a timeout (a timed wait ends by itself): None = unknown
    fd: Optional[int] = None  # the file descriptor of a blocked read()/write()/recv()/send()
    child: Optional[int] = None  # the pid a blocked wait4()/waitid() waits for (Process.join, subprocess wait); 0: any child (os.wait())
    joins: Optional[int] = None  # the ident of the thread a blocked Thread.join() waits for (read from the Thread object)
    notifier: Optional[int] = None  # the ident of the thread holding the lock of the Condition this thread waits on (None: free or unknown)
    polls: Optional[tuple[int, ...]] = None  # the fds a blocked select/poll/epoll watches (read when a thread waits on a socket or pipe)
    # the processes of the tree that map the shared memory a thread asleep on a process-shared futex
    # waits in (a multiprocessing Event, Condition, Semaphore: its /dev/shm file): only they can post it
    shared_by: Optional[tuple[int, ...]] = None
    file_lock: Optional[FileLockWait] = None  # the file lock a thread blocked in flock()/fcntl(F_SETLKW) waits for (the kernel's lock table)
    ran: bool = False  # read again a moment later (capture.ends.confirm), it had moved: not blocked where the capture saw it

    @property
    def label(self) -> str:
        return self.name or f"Thread {self.tid}"

    @property
    def asleep_on_shared(self) -> bool:
        """Asleep without a timeout on a futex other processes may post (a multiprocessing
        Lock, Event, Condition, Semaphore, Queue slot: ``shared_by`` says who maps it): kernel
        facts alone (``shared_wait`` adds what the wait is)."""
        return self.futex is not None and self.futex_shared is True and self.timed is False and not self.ghost

    @property
    def shared_wait(self) -> bool:
        """``asleep_on_shared``, not seen to run, in a wait that is not a lock (whose holder is
        read from the lock itself) nor waiting for work: an Event, a Condition, a queue slot."""
        return (
            self.asleep_on_shared
            and not self.ran
            and self.wait is not None
            and not self.wait.kind.is_lock
            and self.wait.kind not in (WaitKind.IDLE, WaitKind.RUNNING)
        )

    @property
    def awaits_file_lock(self) -> bool:
        """Blocked in flock() or fcntl(F_SETLKW) on a known fd (``file_lock`` says who holds it)."""
        return self.syscall in FILE_LOCK_CALLS and self.fd is not None and not self.ghost


class ProcError(Record, frozen=True):
    """Why a process could not be read (see capture.errors for the codes)."""

    code: str  # an ErrorCode
    message: str
    help: str = ""
    detail: str = ""


class Process(Record, frozen=True):
    pid: int
    ppid: int
    create_time: float
    name: str = ""
    cmdline: tuple[str, ...] = ()
    status: str = ""  # a ProcessStatus, or psutil's word as read
    role: str = ProcessRole.OTHER  # a ProcessRole; a str, so that any saved word loads (model.words)
    role_index: Optional[int] = None
    python: Optional[str] = None  # "3.11" as read from the interpreter binary, None when not Python
    cpu_percent: Optional[float] = None
    cpu_time: Optional[float] = None  # user+system seconds
    runq_time: Optional[float] = None  # seconds its main thread waited runnable for a CPU (schedstat), read while it runs
    rss: Optional[int] = None
    num_threads: int = 0
    threads: tuple[Thread, ...] = ()
    error: Optional[ProcError] = None
    reused: bool = False  # stacks carried over from the previous dump (no thread ran since)
    exit_code: Optional[int] = None  # a wait status: a zombie's (/proc/PID/stat field 52) or the kernel's at exit (Exit)
    tracer_pid: Optional[int] = None  # TracerPid (/proc/PID/status): a debugger (or strace) holds it, when not 0
    caught_signals: Optional[int] = None  # SigCgt (/proc/PID/status): signals it has a handler for (bit N-1 = signal N)
    pipes: tuple[PipeEnd, ...] = ()  # its pipe file descriptors, read when a thread of the tree is blocked on a pipe
    sockets: tuple[SocketEnd, ...] = ()  # its socket file descriptors, read when a thread of the tree is blocked on a socket or pipe
    interpreters: Optional[int] = None  # how many interpreters it runs, when more than one: only one's threads are shown

    @property
    def stopped(self) -> bool:
        """Stopped by a signal (SIGSTOP, ctrl-z) or held by a tracer: none of its threads runs."""
        return self.status in (ProcessStatus.STOPPED, ProcessStatus.TRACING_STOP)

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


class LockHolder(Record, frozen=True):
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


class ManagerClient(Record, frozen=True):
    """A client connection of a multiprocessing Manager, as its server thread shows it."""

    name: str  # how the Manager names the client: its process name (+ "|thread name")
    server_tid: int  # the Manager's thread serving this connection
    last_call: str = ""  # its last request on the lock (acquire, release...), "" for another object
    result: str = ""  # what that request returned (py-spy's repr)
    waiting: bool = False  # the server thread is running that request now (blocked in it)
    pid: Optional[int] = None  # the client process, when its end of the connection was found


class ManagerObject(Record, frozen=True):
    """A Manager's shared object (a Lock on the server) and the clients connected to it."""

    ident: str  # the object's id in the Manager (a proxy's ``_id``)
    typeid: str = ""  # Lock, RLock...
    clients: tuple[ManagerClient, ...] = ()


class Lock(Record, frozen=True):
    """A lock object read from a target's memory, with what is known of its holder and waiters."""

    id: str
    kind: str  # a LockKind: lock | rlock | semlock | semaphore
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
    fd: Optional[int] = None  # a lock inside an io buffered object: the file descriptor it writes or reads
    confirmed: Optional[bool] = None  # read again a moment later: a holder-less semaphore still taken, a Manager lock's waiters unmoved (True)


class EventKind(Word):
    """What happened to a process or thread between two samples (``Event.kind``); the
    values are what every report has saved."""

    PROCESS_NEW = "process_new"
    PROCESS_EXITED = "process_exited"
    PROCESS_REAPED = "process_reaped"
    WORKER_REPLACED = "worker_replaced"
    THREAD_NEW = "thread_new"
    THREAD_GONE = "thread_gone"
    ROLE_CHANGED = "role_changed"


class Event(Record, frozen=True):
    time: float
    kind: EventKind
    pid: int
    detail: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):  # a caller's plain "process_exited": compared by identity
            force_setattr(self, "kind", EventKind(self.kind))


class Exit(Record, frozen=True):
    """A process's end as the kernel reported it when it happened (capture.exits): known
    even after its parent reaped it, which /proc no longer shows."""

    pid: int
    status: int  # a wait status: signal = & 0x7f, code = >> 8 (exit_text)
    at: float  # wall-clock time
    ppid: Optional[int] = None  # its parent (Linux >= 4.18)


class Snapshot(Record, frozen=True):
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

    @property
    def python_threads(self) -> int:
        """The Python threads read (a program's threads, shown by the kernel's facts, are not)."""
        return sum(len(p.threads) for p in self.processes if p.error is None)

    def children(self, pid: int) -> list[Process]:
        return [p for p in self.processes if p.ppid == pid and p.pid != pid]

    def with_(self, **changes: Any) -> Snapshot:
        return replace(self, **changes)


class Timeline(Record, frozen=True):
    snapshots: tuple[Snapshot, ...] = ()
    events: tuple[Event, ...] = ()
