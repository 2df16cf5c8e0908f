"""Messages between the capture worker, the App and the widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from pooltui.model import Event, Snapshot


@dataclass
class Captured(Message):
    """A capture finished; ``reason`` says what asked for it (refresh, dump, locals...)."""

    snapshot: Snapshot
    reason: str


@dataclass
class CaptureProgress(Message):
    """``done`` of ``total`` processes read so far in the running capture."""

    done: int
    total: int


@dataclass
class CaptureFailed(Message):
    """A capture raised; ``error`` is the exception (capture errors carry code/help)."""

    error: Exception
    reason: str


@dataclass
class SessionChanged(Message):
    """The session changed: redraw the views, or only the status line (capture progress)."""

    status_only: bool = False


@dataclass
class ProcessSelected(Message):
    """The tree's highlight moved to process ``pid``."""

    pid: int


@dataclass
class FollowHolder(Message):
    """Jump to the process and thread that hold the lock a thread waits on."""

    pid: int
    tid: int | None
    fork: bool = False  # to the parent's thread that held an orphaned lock when the process was forked


@dataclass
class EventChosen(Message):
    """Enter on an event of the log (a worker's death: open the core it left)."""

    event: Event
