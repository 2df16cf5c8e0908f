"""The selected process: a title (role, pid, state, command line), its error when it
could not be read, and one entry per Python thread with its wait line and stack."""

from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static
from textual.widgets.option_list import Option

from pooltui.analysis.waits import process_state
from pooltui.model import Process, Snapshot, Thread
from pooltui.report.text import group_threads, one_line
from pooltui.ui import format as fmt
from pooltui.ui.follow import NO_LOCK, Follow, follow
from pooltui.ui.messages import FollowHolder
from pooltui.ui.widgets.option_list import OptionList
from pooltui.ui.widgets.panels import update_static


class ThreadList(OptionList):
    """Threads as options (by position: fork ghosts share tid 0); `enter` follows a lock wait to its holder."""

    # one key, three meanings: the footer shows the first one enabled (check_action hides the others)
    BINDINGS = [
        Binding("enter", "follow", "go to lock holder", tooltip="Select the process and thread holding the lock this thread waits on"),
        Binding(
            "enter",
            "follow_fork",
            "go to holder at fork",
            tooltip="A lock inherited locked across fork(): select the parent's thread that held it when this process was forked",
        ),
        Binding("enter", "why_no_holder", "why no holder", tooltip="Say why there is no lock holder to go to (no owner recorded, gone since fork)"),
        Binding("l", "screen.toggle_locals", "locals", tooltip="Capture local variables too (py-spy --locals)"),
        Binding("n", "screen.toggle_native", "native", tooltip="Capture native C frames too (py-spy --native)"),
        Binding("d", "screen.dump", "dump", tooltip="Dump the selected process's stacks again"),
        Binding("c", "screen.copy", "copy", tooltip="Copy the selected thread (wait line and stack) as Markdown"),
        Binding("w", "screen.wait_chain", "waits", tooltip="The selected thread's chain of waits: who waits on whom, to the end or the cycle"),
        Binding("g", "toggle_group", "group", tooltip="Threads with the same stack and wait: one row with a count, or every thread (expand)"),
    ]

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.snapshot: Optional[Snapshot] = None
        self.threads: tuple[Thread, ...] = ()
        self.show_locals = False
        self._width = 0
        self._follow_state: tuple[Optional[bool], ...] = ()
        self._marks: dict[int, str] = {}
        self.grouped = True  # threads with the same stack and wait: one row with a count (`g` expands)
        self.rows: list[tuple[int, ...]] = []  # per option: indexes into ``threads`` (a group, or one thread)
        self._shown: tuple[Thread, ...] = ()

    def _text_width(self) -> int:
        """Columns an option's text gets (wait lines are wrapped to it); 100 before layout."""
        return self.scrollable_content_region.width - 2 if self.size.width else 100

    def on_resize(self) -> None:
        if self.snapshot is not None and self._text_width() != self._width:
            self.show(self.snapshot, self.threads, show_locals=self.show_locals)

    @property
    def selected_index(self) -> Optional[int]:
        """Index in ``threads`` of the selected thread (a group's first)."""
        i = self.highlighted
        return self.rows[i][0] if i is not None and 0 <= i < len(self.rows) else None

    @property
    def selected(self) -> Optional[Thread]:
        i = self.selected_index
        return self.threads[i] if i is not None else None

    def select_index(self, index: int) -> None:
        """Highlight the row holding thread ``index`` (of ``threads``)."""
        row = next((r for r, members in enumerate(self.rows) if index in members), None)
        if row is not None:
            self.highlighted = row
            self.scroll_to_highlight(top=True)

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        if self.snapshot is not None:
            keep = self.selected.tid if self.selected else None
            self.threads = ()  # draw again
            self.show(self.snapshot, self._shown, keep, self.show_locals)
        self.notify("identical threads grouped" if self.grouped else "every thread shown", timeout=2)

    def where(self) -> Follow:
        """Where `enter` goes from the selected thread, or why nowhere."""
        thread = self.selected
        if thread is None or self.snapshot is None:
            return NO_LOCK
        return follow(self.snapshot, thread)

    def holder(self) -> Optional[tuple[int, Optional[int]]]:
        go = self.where()
        return (go.pid, go.tid) if go.pid is not None else None

    def _enter_state(self) -> tuple[Optional[bool], Optional[bool], Optional[bool]]:
        """(go to holder, go to holder at fork, why no holder) as check_action answers them:
        True shown, False hidden, None shown dimmed (nothing to follow: the thread waits on no lock)."""
        go = self.where()
        if go.possible:
            return not go.fork, go.fork, False
        if go.why:
            return False, False, True
        return None, False, False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        state = self._enter_state()
        if action == "follow":
            return state[0]
        if action == "follow_fork":
            return state[1]
        if action == "why_no_holder":
            return state[2]
        return True

    def action_follow(self) -> None:
        go = self.where()
        if go.pid is not None:
            self.post_message(FollowHolder(go.pid, go.tid, fork=go.fork))

    def action_follow_fork(self) -> None:
        self.action_follow()

    def action_why_no_holder(self) -> None:
        go = self.where()
        if go.why:
            self.notify(go.why, title="no lock holder to go to", severity="warning", timeout=8, markup=False)

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._update_follow()

    def _update_follow(self) -> None:
        """Redraw the footer only when `enter` changes between enabled and disabled, and
        only while this list has focus: the footer shows `enter` only then, and a focus
        change redraws it anyway. A footer redraw mounts all its keys again (50-100 ms
        while a capture runs): moving through the tree must not pay for it."""
        state = self._enter_state()
        if state != self._follow_state:
            self._follow_state = state
            if self.has_focus:
                self.refresh_bindings()

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # a click selects; following is the `enter` binding's job

    def show(self, snapshot: Snapshot, threads: tuple[Thread, ...], keep: Optional[int] = None, show_locals: bool = False) -> None:
        self.snapshot = snapshot
        width = self._text_width()
        if (threads, show_locals, width) == (self.threads, self.show_locals, self._width) and fmt.thread_marks(snapshot) == self._marks:
            # same stacks: keep the scroll position
            if keep is not None:
                self.select_tid(keep)
            return
        keep = keep if keep is not None else (self.selected.tid if self.selected else None)
        self.threads, self.show_locals, self._width, self._shown = threads, show_locals, width, threads
        marks = self._marks = fmt.thread_marks(snapshot)
        if self.grouped:
            index = {id(t): i for i, t in enumerate(threads)}
            self.rows = [tuple(index[id(t)] for t in group) for group in group_threads(threads)]
        else:
            self.rows = [(i,) for i in range(len(threads))]
        self.set_options(self._option(snapshot, [threads[i] for i in row], show_locals, width, marks, n) for n, row in enumerate(self.rows))
        if threads:
            self.select_tid(keep)
        self._update_follow()

    @staticmethod
    def _option(snapshot: Snapshot, group: list[Thread], show_locals: bool, width: int, marks: dict[int, str], n: int) -> Option:
        first = group[0]
        block = fmt.thread_block(first, follow(snapshot, first), show_locals, width, mark=marks.get(first.tid, ""))
        if len(group) > 1:  # the same stack and wait: one row, how many, and who
            names = ", ".join(one_line(t.label, 30) for t in group[1:6]) + (", …" if len(group) > 6 else "")
            count = Content.assemble(
                (f"×{len(group)} ", "$accent bold"),
                ("the same stack and wait: also ", "$text-muted"),
                (names, "$text-muted"),
                ("  (g: expand)", "$text-muted"),
            )
            block = Content("\n").join([count, block])
        return Option(block, id=f"t{n}")

    def select_tid(self, tid: Optional[int]) -> None:
        tids = [t.tid for t in self.threads]
        self.select_index(tids.index(tid) if tid in tids else 0)


class ThreadPane(Vertical):
    """Title + error + thread list of the process shown."""

    BORDER_TITLE = "threads"

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.process: Optional[Process] = None

    def compose(self) -> ComposeResult:
        yield Static(id="proc-title")
        yield Static(id="proc-error")
        yield ThreadList(id="thread-list")

    def show(
        self,
        snapshot: Snapshot,
        proc: Optional[Process],
        keep_tid: Optional[int] = None,
        show_locals: bool = False,
        gone: str = "",
        members: tuple[int, ...] = (),
    ) -> None:
        """``gone``: the process left the tree ("exited at 12:01:02"): show its last stacks as such.
        ``members``: the pids of the tree's group ``proc`` stands for (its stacks are theirs too)."""
        title = self.query_one("#proc-title", Static)
        error = self.query_one("#proc-error", Static)
        threads = self.query_one(ThreadList)
        self.process = proc
        if proc is None:
            update_static(title, Content.styled("no process selected", "$text-muted"))
            error.display = False
            threads.show(snapshot, ())
            return
        update_static(title, fmt.process_title(proc, gone or process_state(proc), gone=bool(gone), members=members))
        error.display = proc.error is not None
        update_static(error, fmt.process_error(proc))
        threads.show(snapshot, proc.threads, keep_tid, show_locals)
        self.border_title = f"threads · pid {proc.pid}"

    @property
    def thread_list(self) -> ThreadList:
        return self.query_one(ThreadList)
