"""The Textual app: takes a source (live or recorded, chosen by cli), runs every capture
in an exclusive async worker, keeps the session and tells the screens to redraw.

The source is a ``model.Source`` (``sources.LiveSource``, ``sources.RecordedSource``, a
scripted one in tests). The UI never imports the capture layer: a capture error is a
``model.Failure``, recognised by its ``code``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Optional

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from pooltui.analysis.history import History
from pooltui.model import ErrorCode, Failure, Snapshot, Source
from pooltui.report.text import one_line
from pooltui.ui.messages import Captured, CaptureFailed, CaptureProgress, SessionChanged
from pooltui.ui.screens.main import MainScreen
from pooltui.ui.session import Session
from pooltui.ui.widgets.panels import bindings_of
from pooltui.ui.widgets.threads import ThreadList

PROGRESS_EVERY = 0.2  # seconds between redraws of "capturing n/N processes"


def _freeze_heap() -> None:
    gc.collect()  # what is garbage now is not kept for good
    gc.freeze()


class PoolApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "pooltui"

    def __init__(self, source: Source, *, interval: float = 2.0, snapshot: Optional[Snapshot] = None) -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self.options = source.options
        kept = source.history  # the source's own samples (a History: with their diffs): shared, not rebuilt
        first = snapshot if snapshot is not None else (kept[-1] if kept else None)
        history: Sequence[Snapshot] | History = kept if isinstance(kept, History) and kept.latest is first else tuple(kept)
        if first is not None and (not history or history[-1].created != first.created):
            history = (*history, first)
        self.session = Session.replay(history, source.events, live=source.live)
        self.session.show_locals = source.live and self.options.locals
        self._progress_drawn = 0.0

    @property
    def source_description(self) -> str:
        return str(self.source.description)

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen()

    def on_mount(self) -> None:
        if self.session.current is None:
            self._start_capture("first capture")
        if self.session.live:
            self.set_interval(self.interval, self._tick)
        # Textual's own objects (widgets, styles, caches) are most of the heap and never
        # garbage; once the screen is up, keep the collector from walking them on every full
        # collection: that walk froze the UI for 40-50 ms while a 128-process tree was captured
        self.call_after_refresh(_freeze_heap)

    def on_unmount(self) -> None:
        gc.unfreeze()  # what the app leaves behind is garbage like anything else (tests run many apps)

    def _tick(self) -> None:
        session = self.session
        if not (session.paused or session.capturing or session.target_gone):
            self.request_capture("refresh")

    # -- captures ------------------------------------------------------------------
    def request_capture(self, reason: str, pids: Optional[tuple[int, ...]] = None) -> None:
        """Start a capture; a newer request replaces one still running (exclusive worker).
        ``pids``: dump just these processes again (the source keeps the others' stacks)."""
        if self.session.live and not self.session.target_gone:
            self._start_capture(reason, pids)

    def _start_capture(self, reason: str, pids: Optional[tuple[int, ...]] = None) -> None:
        self.session.capturing = True
        self.session.progress = (0, 0)
        # every frame drawn costs the CPUs the target runs on: an auto-refresh (often all
        # reused, done in a few ms) says "capturing" only once it has taken PROGRESS_EVERY
        if reason == "refresh":
            self._progress_drawn = time.monotonic()
        else:
            self._progress_drawn = 0.0
            self._changed(status_only=True)
        self._capture(reason, pids)

    @work(exclusive=True, group="capture")
    async def _capture(self, reason: str, pids: Optional[tuple[int, ...]] = None) -> None:
        try:
            snapshot = await self.source.capture(progress=self._progress, options=self.options, pids=pids)
        except Exception as exc:  # the one error path: every failure becomes a message
            self.post_message(CaptureFailed(exc, reason))
            return
        self.post_message(Captured(snapshot, reason))

    def _progress(self, done: int, total: int) -> None:
        self.post_message(CaptureProgress(done, total))

    def on_capture_progress(self, message: CaptureProgress) -> None:
        if self.session.capturing:
            self.session.progress = (message.done, message.total)
            now = time.monotonic()
            if now - self._progress_drawn >= PROGRESS_EVERY:  # each redraw is a frame the capture competes with
                self._progress_drawn = now
                self._changed(status_only=True)

    def on_captured(self, message: Captured) -> None:
        was_gone = self.session.target_gone
        self.session.capturing = False
        self.session.add(message.snapshot, self.source.history)
        if self.session.target_gone and not was_gone:
            self._target_gone()
        self._changed()

    def _target_gone(self) -> None:
        gone = "The target tree exited. The last snapshot stays on screen: press s to save it."
        self.notify(gone, title="target gone", severity="warning", timeout=10)

    def on_capture_failed(self, message: CaptureFailed) -> None:
        session, exc = self.session, message.error
        session.capturing = False
        failure = exc if isinstance(exc, Failure) else None
        text = one_line((failure.message if failure is not None else "") or str(exc) or type(exc).__name__, 300)
        if failure is not None and failure.code == ErrorCode.PROCESS_GONE:
            if not session.target_gone:
                session.target_gone = True
                self._target_gone()
        else:
            repeated, session.last_error = session.last_error == text, text
            hint = one_line(failure.help if failure is not None else "", 400)
            if not repeated:  # an auto-refresh failing every few seconds says so once; the status line keeps saying it
                self.notify(text + (f"\n{hint}" if hint else ""), title=f"{message.reason} failed", severity="error", timeout=10, markup=False)
        self._changed()

    def _changed(self, status_only: bool = False) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.post_message(SessionChanged(status_only))

    def refresh_state(self) -> tuple[str, str]:
        """What the status line says about refreshing, and its style."""
        s = self.session
        if s.target_gone:
            return "target exited · last snapshot kept (s saves it)", "$error bold"
        if s.capturing:
            done, total = s.progress
            # as wide at 9/129 as at 129/129: a wider status relays out the whole screen
            return (f"capturing {done:>{len(str(total))}}/{total} processes…" if total else "capturing…"), "$accent bold"
        flags = " · locals" if s.show_locals else ""
        flags += " · native" if self.options.native else ""
        if not s.live:
            return "recorded report" + flags, "$text-muted"
        if s.last_error:
            return f"last refresh failed: {s.last_error}", "$error"
        if s.paused:
            return "paused (space resumes)" + flags, "$warning bold"
        return f"live · every {self.interval:g} s" + flags, "$success"

    # -- command palette -------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for binding in bindings_of(type(screen)):
            if binding.action in ("quit", "clear_filter") or screen.check_action(binding.action, ()) is not True:
                continue
            key = binding.key_display or binding.key
            yield SystemCommand(binding.description.capitalize(), f"key {key}: {binding.tooltip}", partial(screen.run_action, binding.action))
        threads = screen.query_one(ThreadList)
        for binding in bindings_of(ThreadList):  # enter's meanings (its other keys are the screen's, listed above)
            if not binding.action.startswith("screen.") and threads.check_action(binding.action, ()) is True:
                yield SystemCommand(binding.description.capitalize(), "key enter: " + binding.tooltip, partial(threads.run_action, binding.action))
