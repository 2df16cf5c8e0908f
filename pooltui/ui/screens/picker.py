"""`pooltui attach` without a pid: every Python process tree on the box (the rows of
`pooltui ps`), the hung-looking ones first and marked; enter attaches to the highlighted tree.

The list comes from a source object given by cli (``await source.trees()`` -> rows and the
census they are of); this screen never reads a process itself.
"""

from __future__ import annotations

from typing import Any, Optional

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from pooltui.model.census import PsTree
from pooltui.report.census import cells, notes, roles_text, verdict_text
from pooltui.report.text import one_line

HEADERS = ("", "PID", "PROGRAM", "ROLES", "STATE", "CPU", "AGE", "VERDICT")
_CUT = {2: 18, 3: 24, 7: 70}  # column -> most characters shown (the detail line below has it all)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class PickerScreen(Screen[Optional[int]]):
    """Pick a tree; dismissed with its root pid, or None."""

    DEFAULT_CSS = """
    PickerScreen { layout: vertical; }
    PickerScreen #picker-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    PickerScreen DataTable { height: 1fr; }
    PickerScreen #picker-detail { height: auto; max-height: 8; padding: 0 1; border-top: solid $panel-lighten-2; }
    """
    BINDINGS = [
        Binding("enter", "attach", "attach", tooltip="open the TUI on the highlighted tree"),
        Binding("r", "refresh", "refresh", tooltip="read the list again"),
        Binding("q", "quit_picker", "quit", tooltip="leave without attaching"),
        Binding("escape", "quit_picker", "quit", show=False),
    ]

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source
        self.rows: list[PsTree] = []
        self.basis = ""

    def compose(self) -> ComposeResult:
        yield Static("pooltui · pick a Python process tree · reading /proc…", id="picker-title")
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*HEADERS)
        yield table
        yield Static("", id="picker-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    @work(exclusive=True, group="census")
    async def load(self) -> None:
        try:
            rows, census = await self.source.trees()
        except Exception as exc:  # the one error path: said on screen, the picker stays
            self.query_one("#picker-title", Static).update(Text(f"pooltui · cannot list the processes: {one_line(str(exc), 200)}"))
            return
        # the basis said short (the detail has a few lines at 80x24); `pooltui ps` says it in full
        short = f"Cheap look: kernel facts over {census.window:.2f} s, no stack or memory read; `pooltui snapshot ROOT` gives the real verdict."
        self.rows, self.basis = list(rows), " ".join([short, *notes(census)])
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for tree in self.rows:
            values = list(cells(tree))
            values = [values[0], values[1], values[2], values[4], values[5], values[6], values[7], values[8]]
            row = [Text(_cut(v, _CUT[i]) if i in _CUT else v) for i, v in enumerate(values)]
            if tree.hung:
                for text in row:
                    text.stylize("bold red")
            elif tree.error:
                for text in row:
                    text.stylize("dim")
            table.add_row(*row, key=str(tree.root_pid))
        hung = sum(1 for t in self.rows if t.hung)
        looks = "looks" if hung == 1 else "look"
        title = f"pooltui · {len(self.rows)} Python trees, {hung} {looks} hung (!) · enter attaches · q quits"
        self.query_one("#picker-title", Static).update(Text(title))
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        self._detail()

    def _detail(self) -> None:
        tree = self.highlighted
        detail = self.query_one("#picker-detail", Static)
        if tree is None:
            detail.update(Text("No Python process found." if not self.rows or not self.basis else ""))
            return
        line = f"{tree.root_pid} {one_line(tree.program, 60)} · {one_line(roles_text(tree), 120)}"
        text = Text(line, style="bold")
        for verdict in tree.verdicts or ():
            text.append("\n" + one_line(verdict.text, 400), style="bold red" if verdict.hung else "yellow")
        if tree.error:
            text.append("\n" + one_line(verdict_text(tree), 400), style="dim")
        text.append("\n" + self.basis, style="dim")
        detail.update(text)

    @property
    def highlighted(self) -> Optional[PsTree]:
        table = self.query_one(DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_attach()

    def action_attach(self) -> None:
        tree = self.highlighted
        if tree is None:
            return
        if tree.error:
            self.notify(one_line(tree.error_message, 300), title="cannot attach", severity="error", markup=False)
            return
        self.dismiss(tree.root_pid)

    def action_refresh(self) -> None:
        self.query_one("#picker-title", Static).update(Text("pooltui · pick a Python process tree · reading /proc…"))
        self.load()

    def action_quit_picker(self) -> None:
        self.dismiss(None)
