"""The bottom panels (diagnoses, event log) and the status line at the top."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Optional

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.widgets import Static

from pooltui.model import Event, Snapshot
from pooltui.report.text import one_line
from pooltui.ui import format as fmt
from pooltui.ui.messages import EventChosen


def same_content(a: object, b: object) -> bool:
    """Same text and styles (Content's own == compares the text only)."""
    return isinstance(a, Content) and isinstance(b, Content) and a.plain == b.plain and list(a.spans) == list(b.spans)


def update_static(static: Static, content: Content) -> None:
    """``static.update(content)`` unless it already shows exactly that: an update lays out
    and repaints the screen, which on every 2 s refresh costs the target CPU time."""
    old = static.content
    if same_content(old, content):
        return
    # a widget of fixed size, or a line as wide as the one it replaces, needs a repaint of
    # itself, not a new layout of the screen (~20 ms with a 128-process tree)
    same_size = isinstance(old, Content) and "\n" not in old.plain + content.plain and old.cell_length == content.cell_length
    static.update(content, layout=static.styles.auto_dimensions and not same_size)


# the bottom panes scroll by keyboard once tab has focused them (VerticalScroll's own keys, shown)
SCROLL_KEYS: list[Binding] = [
    Binding("down", "scroll_down", "scroll", key_display="↑↓", tooltip="Scroll the focused pane (diagnoses, events) a line"),
    Binding("pagedown", "page_down", "page", key_display="pgup/pgdn", tooltip="Scroll the focused pane a page"),
    Binding("up", "scroll_up", "scroll up", show=False),
    Binding("pageup", "page_up", "page up", show=False),
    Binding("home", "scroll_home", "top", show=False),
    Binding("end", "scroll_end", "end", show=False),
    Binding("c", "screen.copy", "copy", tooltip="Copy every verdict (with evidence and fix) as Markdown"),
]


def bindings_of(node: type[DOMNode]) -> list[Binding]:
    """``node.BINDINGS``, the Binding objects pooltui writes there (textual also takes
    (key, action[, description]) tuples, which pooltui never uses)."""
    return [b for b in node.BINDINGS if isinstance(b, Binding)]


class DiagnosesPanel(VerticalScroll):
    """Every diagnosis of the current snapshot, most severe first."""

    BORDER_TITLE = "diagnoses"
    BINDINGS: ClassVar[list[BindingType]] = [*SCROLL_KEYS]

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="diagnoses-text")

    def show(self, snapshot: Snapshot) -> None:
        blocks = [fmt.diagnosis_block(d) for d in snapshot.diagnoses]
        notes = [Content.styled(f"note: {one_line(n, 300)}", "$text-muted") for n in snapshot.notes]
        if not blocks:
            blocks = [Content.styled("✔ no problems found", "$success")]
        update_static(self.query_one("#diagnoses-text", Static), Content("\n").join([*blocks, *notes]))
        self.border_title = f"diagnoses ({len(snapshot.diagnoses)})"


class EventLog(VerticalScroll):
    """Processes that appeared, exited or were replaced, newest last. Focused, it has a
    selected event (up/down); enter on a worker's death whose core file pooltui found opens
    that core (``EventChosen``, answered by the screen)."""

    BORDER_TITLE = "events"
    BINDINGS = [
        Binding("down", "select(1)", "event", key_display="↑↓", tooltip="Select the next event"),
        Binding("up", "select(-1)", "previous event", show=False),
        Binding("enter", "choose", "open core", tooltip="Open the core file a dead worker left (its death's event says 'enter opens it')"),
        *(b for b in SCROLL_KEYS if b.key not in ("down", "up")),
    ]

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.events: tuple[Event, ...] = ()
        self.selected: Optional[int] = None  # index into events; None: follows the newest

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="events-text")

    def show(self, events: Sequence[Event]) -> None:
        follow = self.selected is None or self.selected >= len(self.events) - 1
        self.events = tuple(events)
        if follow or self.selected is None or self.selected >= len(self.events):
            self.selected = len(self.events) - 1 if self.events else None
        self._draw()
        self.border_title = f"events ({len(self.events)})"

    def _draw(self) -> None:
        if self.events:
            lines = [fmt.event_line(e) for e in self.events]
            if self.has_focus and self.selected is not None:
                lines[self.selected] = lines[self.selected].stylize("reverse")
            text = Content("\n").join(lines)
        else:
            text = Content.styled("no process events yet", "$text-muted")
        static = self.query_one("#events-text", Static)
        if not same_content(static.content, text):
            static.update(text)
            if self.selected is None or self.selected == len(self.events) - 1:
                self.scroll_end(animate=False)

    def on_focus(self) -> None:
        self._draw()

    def on_blur(self) -> None:
        self._draw()

    @property
    def selected_event(self) -> Optional[Event]:
        return self.events[self.selected] if self.selected is not None and 0 <= self.selected < len(self.events) else None

    def action_select(self, step: int) -> None:
        if not self.events:
            return
        at = len(self.events) - 1 if self.selected is None else self.selected
        self.selected = max(0, min(len(self.events) - 1, at + step))
        self._draw()
        self.scroll_to(y=max(0, self.selected - self.scrollable_content_region.height // 2), animate=False)

    def action_choose(self) -> None:
        event = self.selected_event
        if event is not None:
            self.post_message(EventChosen(event))


class StatusLine(Static):
    """One line: target and host on the left (cut first when the line is short); snapshot
    time and what the refresh is doing on the right. One widget of fixed size, so a new
    state ("capturing 12/129 processes…") repaints this line and never lays out the screen."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._parts = (Content(""), Content(""))

    def show(self, description: str, snapshot: Optional[Snapshot], state: str, state_style: str = "$text-muted") -> None:
        host = f" on {one_line(snapshot.host, 60)}" if snapshot else ""
        when = fmt.clock(snapshot.created) if snapshot else "--:--:--"
        left = Content.assemble(("pooltui ", "bold $accent"), (one_line(description, 200) + host, "bold"))
        right = Content.assemble(("snapshot ", "$text-muted"), when, ("  ·  ", "$text-muted"), (state, state_style))
        if not all(same_content(a, b) for a, b in zip(self._parts, (left, right))):
            self._parts = (left, right)
            self.refresh()

    def render(self) -> Content:
        left, right = self._parts
        width = self.content_region.width
        right = right.truncate(width, ellipsis=True)
        left = left.truncate(max(0, width - right.cell_length - 2), ellipsis=True)
        return Content.assemble(left, " " * max(0, width - left.cell_length - right.cell_length), right)
