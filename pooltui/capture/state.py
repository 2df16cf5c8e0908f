"""What the capture keeps from one process to the next and one refresh to the next, in
one object with an owner.

A ``LiveSource`` owns one ``CaptureState`` for its lifetime (the TUI: as long as it runs;
``pooltui snapshot``: one command) and makes it the active one while it captures
(``active``); ``capture_tree`` and the other entry points open a ``scope`` that uses the
active state or, called alone (a script, a test), a fresh one for that call. The capture's
worker thread and asyncio's threads run in the caller's context, so they see the same
state. Nothing of it is a module global: two sources never share what they learned, and a
test never has to reset anything.

The trust rule every cache here keeps (DESIGN.md, Trust model): what is shown for a
process comes from that process. A cache may hold

* facts about one process, keyed by its identity ``(pid, create_time)`` (``versions``,
  ``semlock_addrs``);
* pure functions of content the caller has just read from the process itself (``lines``:
  a line table's bytes -> a line; ``maps``: a maps file's text -> its mappings;
  ``frames``: a frame's fields -> one shared ``Frame``; ``builds``: file names -> a verdict);
* what the file system says to one set of credentials in one mount namespace, keyed by
  them (``short_names``, ``source_files`` with ``hung``: read again as each view before use);
* hints that are checked against the process before they are used (``dict_keys``: the
  address of a str key is used only once the str there reads as the name);
* whether py-spy agreed with the direct reader on a binary (``verified``, ``checking``):
  a fact about pooltui's reader, not about a process's memory; ``records`` keeps it on
  disk for the next run, keyed by the identity of the mapped file (``capture.checkrecords``).

Never a value read from one process's memory served for another: fork siblings may share
a binary and their address space layout, but a sibling (one that dropped to ``nobody``
after fork included) can rewrite its own copy of any object. Every cache is bounded in
bytes (``pooltui.model.bounded``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, cast

import msgspec

from pooltui.model.bounded import ByteLRU
from pooltui.model.record import field, field_names

if TYPE_CHECKING:
    from pooltui.capture.checkrecords import CheckRecords


def _records(directory: Optional[str] = None) -> CheckRecords:
    from pooltui.capture.checkrecords import CheckRecords  # it reads /proc (procfs), which reads this module

    return CheckRecords(directory)


F = TypeVar("F", bound=Callable[..., Any])
KB = 1024
MB = 1024 * KB


class CaptureState(msgspec.Struct):
    """The capture's caches, each bounded in bytes (see the module docstring for what each
    may hold and why that is safe). A mutable Struct, not a dataclass: built in C (model.record)."""

    versions: ByteLRU[tuple[int, float], Optional[str]] = field(default_factory=lambda: ByteLRU(1 * MB))
    semlock_addrs: ByteLRU[tuple[int, float, int], int] = field(default_factory=lambda: ByteLRU(512 * KB))
    frames: ByteLRU[tuple, Any] = field(default_factory=lambda: ByteLRU(16 * MB))
    lines: ByteLRU[tuple[str, bytes, int, int], int] = field(default_factory=lambda: ByteLRU(8 * MB))
    maps: ByteLRU[str, tuple] = field(default_factory=lambda: ByteLRU(8 * MB, size=lambda raw, parsed: 3 * len(raw) + 200 * len(parsed)))
    builds: ByteLRU[tuple, Optional[str]] = field(default_factory=lambda: ByteLRU(1 * MB))
    short_names: ByteLRU[tuple, str] = field(default_factory=lambda: ByteLRU(2 * MB))
    source_files: ByteLRU[Any, tuple[str, ...]] = field(default_factory=lambda: ByteLRU(24 * MB))
    hung: ByteLRU[tuple, bool] = field(default_factory=lambda: ByteLRU(256 * KB))
    dict_keys: ByteLRU[str, int] = field(default_factory=lambda: ByteLRU(64 * KB))
    verified: ByteLRU[tuple, bool] = field(default_factory=lambda: ByteLRU(64 * KB))
    # the comparisons earlier runs kept on disk (capture.checkrecords), looked up once per binary
    records: CheckRecords = field(default_factory=lambda: _records())
    # binary -> (event loop, the comparison with py-spy in progress): the other processes of
    # the binary wait for the first one's comparison instead of each running py-spy
    checking: dict[tuple, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=dict)
    # the proc file system every read goes through (``capture.procfs``): None for the
    # system's; a test points it at a recorded tree
    proc_root: Optional[str] = None

    def caches(self) -> dict[str, ByteLRU]:
        return {name: value for name in field_names(self) if isinstance(value := getattr(self, name), ByteLRU)}

    @property
    def nbytes(self) -> int:
        """What every cache holds, in bytes (estimated as the caches charge it)."""
        return sum(cache.nbytes for cache in self.caches().values())

    @property
    def max_bytes(self) -> int:
        return sum(cache.max_bytes for cache in self.caches().values())


class _Keeps(dict):
    """A dict that keeps nothing (the ``checking`` of the state used when none is active)."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


def _keeps_nothing() -> CaptureState:
    empty = CaptureState()
    for name in empty.caches():
        setattr(empty, name, ByteLRU(0))
    empty.checking = _Keeps()
    empty.records = _records("")  # none read or written
    return empty


_ACTIVE: ContextVar[Optional[CaptureState]] = ContextVar("pooltui_capture_state", default=None)
_NONE_ACTIVE = _keeps_nothing()  # holds nothing, ever: every cache is bounded at 0 bytes


def current() -> CaptureState:
    """The active state; with none active (a reader called on its own), one that keeps nothing."""
    state = _ACTIVE.get()
    return state if state is not None else _NONE_ACTIVE


@contextlib.contextmanager
def active(state: CaptureState) -> Iterator[CaptureState]:
    """Make ``state`` the one the capture uses in this context (and the tasks and worker
    calls started from it)."""
    token = _ACTIVE.set(state)
    try:
        yield state
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def scope() -> Iterator[CaptureState]:
    """The active state, or a fresh one active for this block: an entry point called
    alone still shares what one call learns between its processes."""
    state = _ACTIVE.get()
    if state is not None:
        yield state
        return
    with active(CaptureState()) as fresh:
        yield fresh


def scoped(fn: F) -> F:
    """``fn`` run inside ``scope()``: an entry point whose work relies on what it keeps
    between its own steps (files read, then their lines looked up) works called alone."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with scope():
            return fn(*args, **kwargs)

    return cast(F, run)
