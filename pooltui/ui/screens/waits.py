"""`w`: the selected thread's chain of waits as a small graph: what it waits on, the
thread(s) that could end that wait, what they wait on, ... to a thread that can act (or
waits on nothing the graph follows) or back to one already shown (a cycle).

The chain is ``report.waitchain``'s (plain Python, tested without an App); this screen
only styles its parts. Names and words come from the target: they are ``Content`` text,
never markup."""

from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pooltui.analysis.edge import Node
from pooltui.model import Snapshot
from pooltui.report.waitchain import Line, Link, chain, chain_lines
from pooltui.ui.format import clock

STYLE = {
    "thread": "bold",
    "via": "bold $accent",
    "certainty": "$warning",
    "words": "",
    "any": "$text-muted",
    "end": "$text-muted",
    "cycle": "bold $error",
    "seen": "$text-muted",
    "more": "$text-muted",
}


def chain_content(lines: list[Line]) -> Content:
    """The lines with their parts styled (``Content.styled``: the text is never parsed)."""
    rows = [Content.assemble((line.prefix, "$text-muted"), *((text, STYLE.get(kind, "")) for text, kind in line.parts)) for line in lines]
    return Content("\n").join(rows)


class WaitChainScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "close"),
        Binding("w", "close", "close", show=False),
        Binding("q", "close", "close", show=False),
    ]

    def __init__(self, snapshot: Snapshot, node: Node) -> None:
        super().__init__()
        self.link: Link = chain(snapshot, node)
        self.taken = snapshot.created  # a live refresh goes on behind: this is the chain at that snapshot
        self._width: Optional[int] = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="waits-box") as box:
            box.border_title = "chain of waits"
            box.border_subtitle = f"snapshot {clock(self.taken)} · esc closes"
            yield Static(id="waits-graph")

    def on_mount(self) -> None:
        self._draw()
        self.query_one("#waits-box").focus()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        box = self.query_one("#waits-box", VerticalScroll)
        width = box.scrollable_content_region.width - 1 if box.size.width else 76  # one column for the scrollbar
        if width != self._width:
            self._width = width
            self.query_one("#waits-graph", Static).update(chain_content(chain_lines(self.link, max(30, width))))

    def action_close(self) -> None:
        self.dismiss(None)
