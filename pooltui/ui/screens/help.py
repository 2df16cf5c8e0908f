"""`?`: every key with what it does, and what the badges and stack styles mean."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pooltui.ui import format as fmt

KEY_NAMES = {"space": "space", "slash": "/", "question_mark": "?", "escape": "esc", "enter": "enter", "tab": "tab"}


def key_table(bindings: Sequence[Binding]) -> Content:
    rows = []
    for b in bindings:
        key = b.key_display or KEY_NAMES.get(b.key, b.key)
        rows.append(Content.assemble((f"{key:>6}", "bold $accent"), "  ", (b.description, "bold"), ("  " + b.tooltip, "$text-muted")))
    return Content("\n").join(rows)


def legend() -> Content:
    states = Content(" ").join(fmt.badge(s) for s in fmt.STATE_STYLE)
    return Content("\n").join(
        [
            Content.assemble(("states  ", "bold"), states),
            Content.assemble(
                ("stacks  ", "bold"),
                "innermost frame first, as py-spy prints them; ",
                ("▶ your code", "bold"),
                " over ",
                ("library and stdlib", "$text-muted"),
            ),
            Content.assemble(("waits   ", "bold"), "the line under a thread says what it waits on, and who holds the lock when known"),
            Content.assemble(("diff    ", "bold"), "x compares with the previous refresh, or with the snapshot marked by m"),
            Content.assemble(("palette ", "bold"), "ctrl+p lists every action"),
        ]
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "close"),
        Binding("question_mark", "close", "close", show=False),
        Binding("q", "close", "close", show=False),
    ]

    def __init__(self, bindings: Sequence[Binding]) -> None:
        super().__init__()
        seen: set[tuple[str, str]] = set()
        self.bindings = []
        for b in bindings:  # a pane's binding repeats the screen's ("screen.dump"): list each key once
            what = (b.key, b.action.removeprefix("screen."))
            if b.tooltip and what not in seen:
                seen.add(what)
                self.bindings.append(b)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "pooltui keys"
            box.border_subtitle = "esc closes"
            yield Static(key_table(self.bindings), id="help-keys")
            yield Static(legend(), id="help-legend")

    def action_close(self) -> None:
        self.dismiss(None)
