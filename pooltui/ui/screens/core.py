"""A dead worker's core file, opened from its death's event (enter in the event log): the
same view ``pooltui open CORE`` gives (tree, threads, verdicts, events of the core's one
process), over a session of its own; escape goes back to the live tree, which kept
refreshing underneath."""

from __future__ import annotations

from typing import Optional

from textual.binding import Binding

from pooltui.model import Source
from pooltui.ui.messages import SessionChanged
from pooltui.ui.screens.main import MainScreen
from pooltui.ui.session import Session
from pooltui.ui.widgets.panels import bindings_of


class CoreScreen(MainScreen):
    BINDINGS = [
        *(b for b in bindings_of(MainScreen) if b.action != "clear_filter"),
        Binding("escape", "back", "back to the tree", tooltip="Clear the search, else close the core and go back to the live tree"),
    ]

    def __init__(self, source: Source) -> None:
        super().__init__()
        self._source = source
        self._session = Session.replay(tuple(source.history), source.events, live=False)

    @property
    def session(self) -> Session:
        return self._session

    @property
    def source(self) -> Source:
        return self._source

    @property
    def description(self) -> str:
        return str(self._source.description)

    def refresh_state(self) -> tuple[str, str]:
        return "core file · escape: back to the live tree", "$warning bold"

    def on_session_changed(self, message: SessionChanged) -> None:
        """The live tree refreshed underneath: nothing here changed (a core is one instant)."""
        message.stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if action == "back":
            return True
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        if self.needle or self.query_one("#filter").display:
            self.action_clear_filter()
        else:
            self.dismiss()
