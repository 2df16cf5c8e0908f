"""The main screen's `/` search, as a mixin of MainScreen (and so of CoreScreen): the search
box, the tree filtered to what matches, and ``]`` / ``[`` from one match to the next. What a
process or thread is matched against is ``ui/search.py`` (no Textual).

Only methods live here. Textual builds a screen's bindings from the ``BINDINGS`` of its
DOMNode bases and registers an ``@on`` handler only in a class its message-pump metaclass
creates (textual 8.2: ``DOMNode._merge_bindings``, ``_MessagePumpMeta``; a plain mixin's
``@on`` is never called, textual#3930): the keys stay in ``MainScreen.BINDINGS`` and the
box's two ``@on`` handlers in MainScreen, which hand over to ``search_typed`` and
``search_submitted``. Actions are looked up by name on the screen, so they may live here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from textual.screen import Screen
from textual.widgets import Input

from pooltui.ui.search import hits

if TYPE_CHECKING:
    from pooltui.ui.session import Session
    from pooltui.ui.widgets.process_tree import ProcessTree
    from pooltui.ui.widgets.threads import ThreadPane

    _ScreenBase = Screen[None]  # for mypy: the mixin is only ever part of a Screen
else:
    _ScreenBase = object


class SearchKeys(_ScreenBase):
    if TYPE_CHECKING:  # what MainScreen provides
        needle: str

        @property
        def session(self) -> Session: ...

        @property
        def process_tree(self) -> ProcessTree: ...

        @property
        def threads(self) -> ThreadPane: ...

        def redraw(self) -> None: ...

        def show_process(self, pid: Optional[int], keep_tid: Optional[int] = None) -> None: ...

        def update_bindings(self) -> None: ...

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()
        self.update_bindings()

    def action_clear_filter(self) -> None:
        self._set_filter("")
        self.process_tree.focus()

    def _set_filter(self, text: str) -> None:
        box = self.query_one("#filter", Input)
        self.needle = text
        if box.value != text:
            with box.prevent(Input.Changed):
                box.value = text
        box.display = bool(text)
        self.redraw()

    def search_typed(self, value: str) -> None:
        """The box's text changed: filter the tree, select the first match."""
        self.needle = value.strip()
        self.redraw()
        self._to_match(0, from_start=True)

    def search_submitted(self, value: str) -> None:
        """Enter in the box: an empty search is cleared; the tree takes the keys again."""
        if not value.strip():
            self._set_filter("")
        self.process_tree.focus()

    def _hits(self) -> list[tuple[int, Optional[int]]]:
        snapshot = self.session.current
        if snapshot is None or not self.needle:
            return []
        procs = [p for p in (snapshot.process(pid) for pid in self.process_tree.pids) if p is not None]
        return hits(procs, self.needle, snapshot)

    def _to_match(self, step: int, from_start: bool = False) -> None:
        """Select the match ``step`` away from the selected thread (``from_start``: the first
        match in the selected process, else the first one in the tree)."""
        found = self._hits()
        if not found:
            if self.needle and step:
                self.notify(f"no match for {self.needle!r}", severity="warning", timeout=3, markup=False)
            return
        here_pid, here_index = self.process_tree.selected_pid, self.threads.thread_list.selected_index
        row = {pid: i for i, pid in enumerate(self.process_tree.pids)}

        def place(pid: Optional[int], index: Optional[int]) -> tuple[int, int]:
            return row.get(pid, -1) if pid is not None else -1, -1 if index is None else index

        here = place(here_pid, here_index)
        if from_start:
            target = next((h for h in found if h[0] == here_pid), found[0])
        elif step > 0:  # hits are in tree order: the first after the selection, round to the top
            target = next((h for h in found if place(*h) > here), found[0])
        else:
            target = next((h for h in reversed(found) if place(*h) < here), found[-1])
        pid, index = target
        snapshot = self.session.current
        proc = snapshot.process(pid) if snapshot is not None else None
        tid = proc.threads[index].tid if proc is not None and index is not None else None
        self.process_tree.select_pid(pid)
        self.show_process(pid)
        if index is not None:
            self.threads.thread_list.select_index(index)
        elif tid is None and proc is not None and proc.threads:
            self.threads.thread_list.highlighted = 0

    def action_next_match(self) -> None:
        self._to_match(1)

    def action_previous_match(self) -> None:
        self._to_match(-1)
