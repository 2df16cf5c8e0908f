"""The picker `pooltui attach` opens without a pid: a small App around ``PickerScreen``
whose result is the chosen root pid (None when the user quit); cli then attaches to it."""

from __future__ import annotations

from typing import Any, Optional

from textual.app import App

from pooltui.ui.screens.picker import PickerScreen


class PickerApp(App[Optional[int]]):
    TITLE = "pooltui"

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source

    def on_mount(self) -> None:
        self.push_screen(PickerScreen(self.source), self.exit)
