"""`s`: save the current snapshot (and the event log) as a report. The format follows
the extension (.json, .md, .html); a failure is shown in the dialog, which stays open
with the name typed so far, so nothing is lost.

In a browser (`pooltui serve`, ``App.is_web``) nothing is written on the server: the
report is offered to the browser as a download, under the typed name's last part."""

from __future__ import annotations

import io
import os
import re
from typing import Optional

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pooltui.model import Snapshot
from pooltui.report import OutputError, check_output, format_for, render, save_report
from pooltui.report.text import one_line
from pooltui.ui.widgets.ordered_input import OrderedInput


class SaveDialog(ModalScreen[Optional[str]]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, snapshot: Snapshot, default_name: str) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.default_name = default_name
        self._confirm_overwrite: Optional[str] = None

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box") as box:
            box.border_title = "download report" if self.app.is_web else "save report"
            where = "Download as" if self.app.is_web else "File name"
            yield Static(Content.styled(f"{where} (.json to reopen with `pooltui open`, .md or .html to read):", "$text-muted"))
            yield OrderedInput(self.default_name, id="save-path", select_on_focus=False)
            yield Static(id="save-error")
            with Horizontal(id="save-buttons"):
                yield Button("Save", variant="primary", id="save-ok")
                yield Button("Cancel", id="save-cancel")

    def on_mount(self) -> None:
        self.query_one("#save-error", Static).display = False
        self.query_one("#save-path", Input).focus()

    def _error(self, text: str) -> None:
        box = self.query_one("#save-error", Static)
        box.update(Content.styled(text, "$error"))
        box.display = True

    @on(Input.Submitted, "#save-path")
    @on(Button.Pressed, "#save-ok")
    def save(self) -> None:
        raw = self.query_one("#save-path", Input).value.strip()
        if not raw:
            self._error("type a file name")
            return
        if self.app.is_web:
            self.download(raw)
            return
        path = os.path.expanduser(raw)
        try:
            check_output(path)  # a device, a symlink, a FIFO or a directory is refused before "exists: replace?"
        except OutputError as exc:
            self._error(one_line(str(exc), 300))
            return
        if os.path.exists(path) and not os.path.isdir(path) and self._confirm_overwrite != path:
            self._confirm_overwrite = path
            self._error(f"{one_line(path, 200)} exists: save again to replace it")
            return
        try:
            written = save_report(path, self.snapshot, format_for(path))
        except OutputError as exc:
            self._error(one_line(str(exc), 300))
            return
        self.dismiss(str(written))

    def download(self, raw: str) -> None:
        """Offer the report to the browser: never a path on the server's disk."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(raw.replace("\\", "/"))).lstrip(".") or "pooltui-report.json"
        fmt = format_for(name)
        mime = {"json": "application/json", "md": "text/markdown", "html": "text/html"}[fmt]
        self.app.deliver_text(io.StringIO(render(self.snapshot, fmt)), save_filename=name, mime_type=mime, encoding="utf-8")
        self.dismiss(f"{name} (a download in your browser)")

    @on(Button.Pressed, "#save-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
