"""`x`: the selected process then and now, thread by thread: which stacks stayed the
same (a stuck thread looks like this), which moved, which threads started or ended."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from pooltui.analysis.diff import Change, ProcessDiff, SnapshotDiff, ThreadDiff
from pooltui.report.text import one_line
from pooltui.ui import format as fmt


def _frames(frames, mark: str, style: str) -> list[Content]:  # type: ignore[no-untyped-def]
    return [Content.assemble((mark, style), fmt.frame_line(f, indent=" ")) for f in frames]


def thread_section(t: ThreadDiff) -> Content:
    thread = t.thread
    head = Content.assemble(
        (f"{t.change.value:<8}", fmt.CHANGE_STYLE[t.change.value]),
        fmt.thread_title(thread),
    )
    lines = [head]
    if t.change is Change.SAME:
        lines.append(Content.styled(f"    stack unchanged ({len(thread.frames)} frames)", "$text-muted"))
        if thread.wait:
            lines.append(Content.assemble("    ", (one_line(thread.wait.summary, 300), "$text-muted")))
    elif t.change is Change.CHANGED and t.before is not None and t.after is not None:
        shared = t.first_difference or 0
        for label, th in (("before", t.before), ("now", t.after)):
            if th.wait:
                lines.append(Content.assemble(f"    {label:<7}", (one_line(th.wait.summary, 300), "$text-primary")))
        lines.extend(_frames(t.before.frames[: len(t.before.frames) - shared], "  - ", "$error"))
        lines.extend(_frames(t.after.frames[: len(t.after.frames) - shared], "  + ", "$success"))
        if shared:
            lines.append(Content.styled(f"    … {shared} outer frame(s) unchanged", "$text-muted"))
    elif t.change is Change.NEW:
        lines.extend(_frames(thread.frames, "  + ", "$success"))
    else:
        lines.append(Content.styled("    this thread has ended", "$error"))
    return Content("\n").join(lines)


def summary(diff: SnapshotDiff, pid: int, marked: bool) -> Content:
    base = "marked snapshot" if marked else "previous snapshot"
    head = Content.assemble(
        ("diff ", "bold $accent"),
        f"pid {pid} · {base} {fmt.clock(diff.before.created)} → now {fmt.clock(diff.after.created)} ",
        (f"({diff.seconds:.1f} s)", "$text-muted"),
    )
    tree = Content.styled(
        f"tree: {len(diff.added)} new, {len(diff.removed)} exited, {len(diff.kept)} still there",
        "$text-muted",
    )
    lines = [head, tree]
    for p in diff.removed:
        lines.append(Content.assemble(("  exited  ", "$error"), one_line(f"{p.role_label} pid {p.pid}", 80)))
    for p in diff.added:
        lines.append(Content.assemble(("  new     ", "$success"), one_line(f"{p.role_label} pid {p.pid}", 80)))
    return Content("\n").join(lines)


def process_section(pd: ProcessDiff, seconds: float) -> Content:
    cpu = pd.cpu_percent(seconds)
    counts = ", ".join(f"{pd.count(c)} {c.value}" for c in Change)
    return Content.assemble(
        (one_line(pd.after.role_label, 40), "bold"),
        f"  pid {pd.pid}  ",
        (f"CPU {cpu:.0f}% between the two  " if cpu is not None else "", "$text-muted"),
        (f"threads: {counts}", "$text-muted"),
    )


class DiffScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "back"),
        Binding("x", "close", "back", show=False),
        Binding("q", "close", "back", show=False),
    ]

    def __init__(self, diff: SnapshotDiff, pid: int, marked: bool = False) -> None:
        super().__init__()
        self.diff = diff
        self.pid = pid
        self.marked = marked

    def compose(self) -> ComposeResult:
        pd = self.diff.process(self.pid)
        yield Static(summary(self.diff, self.pid, self.marked), id="diff-summary")
        with VerticalScroll(id="diff-body") as body:
            body.border_title = "threads, then → now"
            if pd is None:
                why = f"pid {self.pid} is not in the base snapshot: it started after it, so there is nothing to compare"
                yield Static(Content.styled(why, "$warning"))
            else:
                yield Static(process_section(pd, self.diff.seconds), id="diff-process")
                for t in pd.threads:
                    yield Static(thread_section(t), classes=f"diff-thread {t.change.value}")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
