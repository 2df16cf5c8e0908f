"""The process tree: one row per process with role, pid, state badge, CPU, RSS and the
most severe diagnosis that names it. Sibling processes alike (``report.text.tree_groups``:
same role, stacks, wait and verdicts, e.g. 63 workers blocked on one line) are one row with
a count and their shared wait; `g` shows them one row each, and back. Rows are options
whose id is the (first) pid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from textual.binding import Binding
from textual.content import Content
from textual.widgets.option_list import Option

from pooltui.analysis.diagnoses import worst_for
from pooltui.analysis.diff import SnapshotDiff
from pooltui.analysis.waits import process_state
from pooltui.model import HOW_INFERRED, Process, Snapshot
from pooltui.report.text import human_bytes, one_line, tree_groups, tree_rows
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
        Binding(
            "g",
            "toggle_group",
            "group",
            tooltip="Processes (tree) or threads (thread list) with the same stacks and wait: one row with a count (×63), or one row each",
        ),
    ]

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.pids: list[int] = []  # every pid shown, in tree order (a group's members together)
        self.rows: list[tuple[int, ...]] = []  # per option: the pids it stands for (a group, or one process)
        self.grouped = True  # sibling processes alike: one row with a count (`g` expands)
        self.member: Optional[int] = None  # the pid shown for the highlighted group (its first, unless one was asked for)
        self._shown: Optional[tuple[object, ...]] = None
        self._last: Optional[tuple[Snapshot, str, Optional[SnapshotDiff], Sequence[tuple[Process, str]]]] = None
        self.gone: set[int] = set()  # pids of the dimmed rows (processes that left the tree)
        self.groupable = False  # some siblings are alike: `g` has something to do (and is in the footer)

    @property
    def selected_row(self) -> tuple[int, ...]:
        """The pids of the highlighted row (one, or a group's)."""
        index = self.highlighted
        return self.rows[index] if index is not None and 0 <= index < len(self.rows) else ()

    @property
    def selected_pid(self) -> Optional[int]:
        row = self.selected_row
        return (self.member if self.member in row else row[0]) if row else None

    def members(self, pid: int) -> tuple[int, ...]:
        """The pids of the row showing ``pid`` (``(pid,)`` when it is not in a group)."""
        return next((row for row in self.rows if pid in row), (pid,))

    def select_pid(self, pid: Optional[int]) -> bool:
        """Highlight the row holding ``pid`` (in a group: that member is the one shown)."""
        row = next((i for i, r in enumerate(self.rows) if pid in r), None)
        if row is None or pid is None:
            return False
        before = self.selected_pid
        self.member = pid
        if self.highlighted != row:
            self.highlighted = row  # posts ProcessSelected
        elif before != pid:  # another member of the highlighted group
            self.post_message(ProcessSelected(pid))
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if action == "toggle_group":
            return self.groupable  # hidden while no two siblings are alike: the footer keeps its room
        return True

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        keep = self.selected_pid
        if self._last is not None:
            self._shown = None  # draw again
            snapshot, needle, cpu, gone = self._last
            self.show(snapshot, needle, cpu, keep=keep, gone=gone)
        if keep is not None:
            self.post_message(ProcessSelected(keep))  # the thread pane's title lists a group's pids, or not
        self.notify("alike processes grouped" if self.grouped else "every process shown", timeout=2)

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
        "replaced by 123"), drawn dimmed where they were (never in a group)."""
        keep = keep if keep is not None else self.selected_pid
        self._last = (snapshot, needle, cpu, gone)
        how = {p.key: text for p, text in gone}
        everyone = (*snapshot.processes, *(p for p, _ in gone))
        grouped = tree_groups(everyone, snapshot.root_pid, snapshot.diagnoses, alone=how)
        groupable = any(len(group) > 1 for _, group in grouped)
        if groupable != self.groupable:
            self.groupable = groupable
            if self.has_focus:
                self.refresh_bindings()
        if not self.grouped:
            grouped = [(prefix, (p,)) for prefix, p in tree_rows(everyone, snapshot.root_pid)]
        states = {p.key: how.get(p.key) or process_state(p) for p in everyone}
        rows = [(prefix, tuple(p for p in group if matches(p, states[p.key], needle, snapshot))) for prefix, group in grouped]
        rows = [(prefix, group) for prefix, group in rows if group]
        self.gone = {p.pid for p, _ in gone}
        key = (snapshot.created, needle, tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(how.values()))
        if key == self._shown:
            self.select_pid(keep)
            return
        self._shown = key
        widths = (
            max((len(prefix) + len(_label(group)) for prefix, group in rows), default=10),
            max((len(str(g[0].pid)) for _, g in rows), default=5),
            max((len(states[g[0].key]) for _, g in rows if g[0].key not in how), default=7),
        )
        options = [
            Option(self._row(prefix, group, states[group[0].key], snapshot, cpu, widths, dim=group[0].key in how), id=str(group[0].pid))
            for prefix, group in rows
        ]
        pids = [tuple(p.pid for p in group) for _, group in rows]
        if (
            pids == self.rows
            and len(options) == self.option_count
            and all(same_content(o.prompt, self.get_option_at_index(i).prompt) for i, o in enumerate(options))
        ):
            self.select_pid(keep)
            return  # every row reads the same (a hung tree's refresh): no repaint
        self.rows = pids
        self.pids = [pid for row in pids for pid in row]
        self.set_options(options)
        if self.rows and not self.select_pid(keep):
            self.highlighted = 0

    @staticmethod
    def _row(
        prefix: str,
        group: tuple[Process, ...],
        state: str,
        snapshot: Snapshot,
        cpu: Optional[SnapshotDiff],
        widths: tuple[int, int, int],
        dim: bool = False,
    ) -> Content:
        p = group[0]
        label = _label(group)
        if dim:  # gone: what it was, how it went, no live figures
            return Content.assemble(
                (prefix, "$text-muted"),
                (label, "$text-disabled strike"),
                " " * (widths[0] - len(prefix) - len(label) + 1),
                (f"{p.pid:>{widths[1]}} ", "$text-disabled"),
                (one_line(state, 40), "$text-disabled italic"),
            )
        percents = [q for q in (_cpu(m, cpu) for m in group) if q is not None]
        rss = [m.rss for m in group if m.rss is not None]
        worst = worst_for(snapshot, p.pid)
        count = f" ×{len(group)}" if len(group) > 1 else ""
        return Content.assemble(
            (prefix, "$text-muted"),
            (label[: len(label) - len(count)], "bold" if p.pid == snapshot.root_pid else ""),
            *(((count, "$accent bold"),) if count else ()),
            " " * (widths[0] - len(prefix) - len(label) + 1),
            (f"{p.pid:>{widths[1]}} ", ""),
            fmt.badge(state).pad_right(widths[2] - len(state)),
            (f"{f'{sum(percents):.0f}%' if percents else '-':>5} ", "$text-muted"),
            (f"{human_bytes(sum(rss)) if rss else '-':>7}", "$text-muted"),
            *((("  ", ""), (f"{fmt.SEVERITY_MARK[worst.severity]} {one_line(worst.kind, 30)}", fmt.SEVERITY_STYLE[worst.severity])) if worst else ()),
            *((("  ", ""), (one_line(_wait(p, snapshot), 120), "$text-muted")) if count else ()),
        )

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        pid = self.selected_pid
        if pid is not None:
            self.post_message(ProcessSelected(pid))


def _label(group: tuple[Process, ...]) -> str:
    """A process's role and number, or a group's role and count ("pool worker ×63")."""
    if len(group) > 1:
        return f"{one_line(group[0].role, 40)} ×{len(group)}"
    return one_line(group[0].role_label, 40)


def _cpu(p: Process, cpu: Optional[SnapshotDiff]) -> Optional[float]:
    if p.cpu_percent is not None or cpu is None:
        return p.cpu_percent
    moved = cpu.process(p.pid)
    return moved.cpu_percent(cpu.seconds) if moved is not None and moved.after.key == p.key else None


def _wait(p: Process, snapshot: Snapshot) -> str:
    """What a group's members wait on, said once on its row, short (the tree is narrow): a lock
    wait first, else the main thread's; a lock by its name and, when known as a fact, its holder's pid."""
    waits = [(t.tid == p.pid, t.wait) for t in p.threads if t.wait is not None and not t.ghost]
    chosen = next((w for _, w in waits if w.kind.is_lock), None) or next((w for main, w in waits if main), None) or (waits[0][1] if waits else None)
    if chosen is None:
        return ""
    lock = next((lk for lk in snapshot.locks if lk.id == chosen.lock_id), None) if chosen.lock_id else None
    if lock is None:
        return chosen.summary
    holder = lock.holder
    known = holder is not None and holder.alive and holder.how != HOW_INFERRED
    return f"waits on {lock.name}" + (f" held by {holder.pid}" if known else "")  # type: ignore[union-attr]
