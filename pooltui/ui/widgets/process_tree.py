"""The process tree: one row per process with role, pid, state badge, CPU, RSS and the
most severe diagnosis that names it. Rows are options whose id is the pid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from textual.binding import Binding
from textual.content import Content
from textual.widgets.option_list import Option

from pooltui.analysis.diagnoses import worst_for
from pooltui.analysis.diff import SnapshotDiff
from pooltui.analysis.waits import process_state
from pooltui.model import Process, Snapshot
from pooltui.report.text import human_bytes, one_line, tree_rows
from pooltui.ui import format as fmt
from pooltui.ui.messages import ProcessSelected
from pooltui.ui.search import matches
from pooltui.ui.widgets.option_list import OptionList
from pooltui.ui.widgets.panels import same_content


class ProcessTree(OptionList):
    """Rows in tree order; highlighting one posts ``ProcessSelected``."""

    BORDER_TITLE = "processes"
    # shown in the footer while the tree has focus; the screen's own bindings run them from anywhere
    BINDINGS = [
        Binding("d", "screen.dump", "dump", tooltip="Dump the selected process's stacks again"),
        Binding("D", "screen.dump_all", "dump all", tooltip="Dump every process of the tree now"),
        Binding("x", "screen.diff", "diff", tooltip="Diff the selected process against the previous (or marked) snapshot"),
        Binding("m", "screen.mark", "mark", tooltip="Mark the current snapshot as the diff base"),
        Binding("c", "screen.copy", "copy", tooltip="Copy the selected process (every thread's wait and stack) as Markdown"),
    ]

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.pids: list[int] = []
        self._shown: Optional[tuple[object, ...]] = None
        self.gone: set[int] = set()  # pids of the dimmed rows (processes that left the tree)

    @property
    def selected_pid(self) -> Optional[int]:
        index = self.highlighted
        return self.pids[index] if index is not None and 0 <= index < len(self.pids) else None

    def show(
        self,
        snapshot: Snapshot,
        needle: str = "",
        cpu: Optional[SnapshotDiff] = None,
        keep: Optional[int] = None,
        gone: Sequence[tuple[Process, str]] = (),
    ) -> None:
        """Rebuild the rows, keeping the highlight on ``keep`` (or the current pid).
        ``gone``: processes that left the tree a moment ago, with how ("exited",
        "replaced by 123"), drawn dimmed where they were."""
        keep = keep if keep is not None else self.selected_pid
        how = {p.key: text for p, text in gone}
        everyone = (*snapshot.processes, *(p for p, _ in gone))
        rows = [(prefix, p, how.get(p.key) or process_state(p)) for prefix, p in tree_rows(everyone, snapshot.root_pid)]  # type: ignore[attr-defined]
        rows = [r for r in rows if matches(r[1], r[2], needle, snapshot)]  # type: ignore[arg-type]
        self.gone = {p.pid for p, _ in gone}
        key = (snapshot.created, needle, tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(how.values()))
        if key == self._shown:
            if keep in self.pids:
                self.highlighted = self.pids.index(keep)
            return
        self._shown = key
        widths = (
            max((len(prefix) + len(one_line(p.role_label, 40)) for prefix, p, _ in rows), default=10),  # type: ignore[attr-defined]
            max((len(str(p.pid)) for _, p, _ in rows), default=5),  # type: ignore[attr-defined]
            max((len(state) for _, p, state in rows if p.key not in how), default=7),  # type: ignore[attr-defined]
        )
        options = [
            Option(self._row(prefix, p, state, snapshot, cpu, widths, dim=p.key in how), id=str(p.pid))  # type: ignore[attr-defined]
            for prefix, p, state in rows
        ]
        pids = [p.pid for _, p, _ in rows]  # type: ignore[attr-defined]
        if (
            pids == self.pids
            and len(options) == self.option_count
            and all(same_content(o.prompt, self.get_option_at_index(i).prompt) for i, o in enumerate(options))
        ):
            if keep in self.pids and self.highlighted != self.pids.index(keep):
                self.highlighted = self.pids.index(keep)
            return  # every row reads the same (a hung tree's refresh): no repaint
        self.pids = pids
        self.set_options(options)
        if not self.pids:
            return
        self.highlighted = self.pids.index(keep) if keep in self.pids else 0

    @staticmethod
    def _row(
        prefix: str, p: Process, state: str, snapshot: Snapshot, cpu: Optional[SnapshotDiff], widths: tuple[int, int, int], dim: bool = False
    ) -> Content:
        if dim:  # gone: what it was, how it went, no live figures
            label = one_line(p.role_label, 40)
            return Content.assemble(
                (prefix, "$text-muted"),
                (label, "$text-disabled strike"),
                " " * (widths[0] - len(prefix) - len(label) + 1),
                (f"{p.pid:>{widths[1]}} ", "$text-disabled"),
                (one_line(state, 40), "$text-disabled italic"),
            )
        percent = p.cpu_percent
        if percent is None and cpu is not None:
            moved = cpu.process(p.pid)
            if moved is not None and moved.after.key == p.key:
                percent = moved.cpu_percent(cpu.seconds)
        worst = worst_for(snapshot, p.pid)
        label = one_line(p.role_label, 40)
        return Content.assemble(
            (prefix, "$text-muted"),
            (label, "bold" if p.pid == snapshot.root_pid else ""),
            " " * (widths[0] - len(prefix) - len(label) + 1),
            (f"{p.pid:>{widths[1]}} ", ""),
            fmt.badge(state).pad_right(widths[2] - len(state)),
            (f"{'-' if percent is None else f'{percent:.0f}%':>5} ", "$text-muted"),
            (f"{human_bytes(p.rss):>7}", "$text-muted"),
            *((("  ", ""), (f"{fmt.SEVERITY_MARK[worst.severity]} {one_line(worst.kind, 30)}", fmt.SEVERITY_STYLE[worst.severity])) if worst else ()),
        )

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(ProcessSelected(int(event.option.id)))
