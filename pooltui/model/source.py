"""The seam between a source of samples and what shows them (the TUI, the commands):
``Source``, the protocol ``sources.LiveSource`` (a running tree) and
``sources.RecordedSource`` (a saved report) implement and ``ui.app.PoolApp`` takes, and the
``CaptureOptions`` a capture is asked with. A sample is a ``Snapshot``; a source's
``history`` is its samples so far, oldest first (an ``analysis.history.History``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Optional, Protocol, runtime_checkable

from pooltui.model.record import Record
from pooltui.model.tree import Event, Snapshot

DEFAULT_TIMEOUT = 10.0  # seconds one process's dump may take (py-spy's, capture.pyspy)

Progress = Callable[[int, int], Optional[Awaitable[None]]]  # (processes read, of) during a capture


class CaptureOptions(Record, frozen=True):
    locals: bool = False
    native: bool = False
    nonblocking: bool = False
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = 0  # 0 = capture.snapshot.default_concurrency()
    locks: bool = True  # read the lock objects that blocked threads wait on (see capture.locks)
    redact: bool = True  # secret-looking locals and command-line values become <redacted> (capture.redact)

    @property
    def stacks(self) -> tuple[bool, bool, bool]:
        """What decides the content of a dump: stacks taken with other values are not reused."""
        return (self.locals, self.native, self.redact)


class Source(Protocol):
    """Where samples come from. ``live``: keys that need a running process make sense."""

    # read-only (properties): a source may keep a narrower type (a History, a tuple of events)
    @property
    def live(self) -> bool: ...

    @property
    def root_pid(self) -> int: ...

    @property
    def target_pid(self) -> Optional[int]:
        """The pid asked for, whose process is shown first (None: a report)."""
        ...

    @property
    def options(self) -> CaptureOptions: ...

    @property
    def history(self) -> Sequence[Snapshot]:
        """The samples so far, oldest first (an ``analysis.history.History``)."""
        ...

    @property
    def events(self) -> Sequence[Event]:
        """Events recorded before the first sample is shown (a report's timeline)."""
        ...

    @property
    def description(self) -> str: ...

    async def capture(
        self, *, progress: Optional[Progress] = None, options: Optional[CaptureOptions] = None, pids: Optional[Collection[int]] = None
    ) -> Snapshot:
        """The tree now (``pids``: just these processes dumped again)."""
        ...


@runtime_checkable
class CoreOpener(Protocol):
    """A source that knows the core files its dead workers left (``sources.LiveSource``):
    the TUI opens one on enter over the death's event."""

    def core_of(self, pid: int) -> Optional[str]: ...

    async def open_core(self, pid: int) -> Source:
        """The core of dead ``pid`` as a source of its own (a ``Failure`` when not readable)."""
        ...


@runtime_checkable
class Failure(Protocol):
    """A capture error as the UI sees it (``capture.errors.CaptureError``, which it never
    imports): recognised by its ``code``, told with its ``message`` and ``help``."""

    code: str
    message: str
    help: str
