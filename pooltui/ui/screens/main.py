"""The main view: status line, process tree | threads of the selected process,
diagnoses | events, footer. Every key is a Binding here, enabled through check_action."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Optional

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input

from pooltui.model import CoreOpener, EventKind, Failure, Process, Snapshot, Source, replace
from pooltui.report.text import one_line
from pooltui.ui.format import clock, stamp
from pooltui.ui.messages import EventChosen, FollowHolder, ProcessSelected, SessionChanged
from pooltui.ui.screens.search_keys import SearchKeys
from pooltui.ui.session import Session
from pooltui.ui.widgets.ordered_input import OrderedInput
from pooltui.ui.widgets.panels import DiagnosesPanel, EventLog, StatusLine, bindings_of
from pooltui.ui.widgets.process_tree import ProcessTree
from pooltui.ui.widgets.threads import ThreadList, ThreadPane

if TYPE_CHECKING:
    from pooltui.ui.app import PoolApp

REPORTS = "~/pooltui-reports"  # the save dialog's default folder ($POOLTUI_REPORTS overrides)


def reports_folder() -> str:
    """The default folder for saved reports, created (0700: stacks can hold secrets) on first
    use; as typed (``~/…``) so the dialog shows it short. The current folder if it cannot be made."""
    folder = os.environ.get("POOLTUI_REPORTS") or REPORTS
    try:
        os.makedirs(os.path.expanduser(folder), mode=0o700, exist_ok=True)
    except OSError:
        return "."
    return folder


NARROW = 110  # columns below which the tree goes above the stacks
LIVE_ONLY = {"dump", "dump_all", "pause", "toggle_native"}


def _has_locals(snapshot: Snapshot) -> bool:
    return any(f.locals for p in snapshot.processes for t in p.threads for f in t.frames)


class MainScreen(SearchKeys, Screen[None]):
    BINDINGS = [
        # keys that matter in one pane are also that pane's bindings (widgets/*.py, shown in the
        # footer while it has focus); here they work from every pane and the footer shows the rest
        Binding("tab", "switch_pane", "pane", tooltip="Next pane: tree, threads, diagnoses, events (shift+tab: back)"),
        Binding("shift+tab", "switch_pane_back", "pane back", show=False, tooltip="Previous pane"),
        Binding("d", "dump", "dump", show=False, tooltip="Dump the selected process's stacks again"),
        Binding("D", "dump_all", "dump all", show=False, tooltip="Dump every process of the tree now"),
        Binding("space", "pause", "pause", tooltip="Pause or resume the auto-refresh"),
        Binding("x", "diff", "diff", show=False, tooltip="Diff the selected process against the previous (or marked) snapshot"),
        Binding("m", "mark", "mark", show=False, tooltip="Mark the current snapshot as the diff base"),
        Binding("s", "save", "save", tooltip="Save a report (json, md or html)"),
        Binding("c", "copy", "copy", show=False, tooltip="Copy as Markdown (OSC 52): the selected thread, process (tree) or the verdicts"),
        Binding("w", "wait_chain", "waits", show=False, tooltip="The selected thread's chain of waits: who waits on whom, to the end or the cycle"),
        Binding("slash", "filter", "search", key_display="/", tooltip="Search processes, stacks: pid, role, thread, function, file, lock, verdict"),
        Binding("right_square_bracket", "next_match", "next match", key_display="]", tooltip="The next thread or process the search matches"),
        Binding("left_square_bracket", "previous_match", "prev match", key_display="[", tooltip="The previous thread or process the search matches"),
        Binding("l", "toggle_locals", "locals", show=False, tooltip="Capture local variables too (py-spy --locals)"),
        Binding("n", "toggle_native", "native", show=False, tooltip="Capture native C frames too (py-spy --native)"),
        Binding("question_mark", "help", "help", key_display="?", tooltip="Keys and what the colours mean"),
        Binding("q", "quit", "quit", tooltip="Quit pooltui (the target is left as it was)"),
        Binding("escape", "clear_filter", "clear search", show=False, tooltip="Clear the search"),
    ]

    app: PoolApp

    def __init__(self) -> None:
        super().__init__()
        self.needle = ""
        self._binding_state: tuple[Optional[bool], ...] = ()
        self._opening: Optional[int] = None  # select this pid on the first screen (set in on_mount)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="left"):
                yield OrderedInput(placeholder="search: pid, role, thread, function, file, lock, verdict", id="filter")
                yield ProcessTree(id="tree")
            yield ThreadPane(id="threads")
        with Horizontal(id="bottom"):
            yield DiagnosesPanel(id="diagnoses")
            yield EventLog(id="events")
        yield Footer(compact=True)

    # what this screen shows: the app's session and source (a core opened from an event:
    # its own, screens/core.py)
    @property
    def session(self) -> Session:
        return self.app.session

    @property
    def source(self) -> Source:
        return self.app.source

    @property
    def description(self) -> str:
        return self.app.source_description

    def refresh_state(self) -> tuple[str, str]:
        return self.app.refresh_state()

    @property
    def process_tree(self) -> ProcessTree:
        return self.query_one(ProcessTree)

    @property
    def threads(self) -> ThreadPane:
        return self.query_one(ThreadPane)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")

    def on_mount(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")
        self.query_one("#filter", Input).display = False
        self._opening = self.source.target_pid
        self.process_tree.focus()
        self.redraw()

    # -- drawing -------------------------------------------------------------------
    def on_session_changed(self, message: SessionChanged) -> None:
        if message.status_only:
            self.show_status()
        else:
            self.redraw()

    def show_status(self) -> None:
        self.query_one(StatusLine).show(self.description, self.session.current, *self.refresh_state())

    def redraw(self, keep_pid: Optional[int] = None, keep_tid: Optional[int] = None) -> None:
        session = self.session
        self.show_status()
        snapshot = session.current
        if snapshot is None:
            return
        if self._opening is not None:  # the first screen: the process asked for (`attach WORKER_PID`), in its tree
            keep_pid = keep_pid if keep_pid is not None else (self._opening if snapshot.process(self._opening) else None)
            self._opening = None
        self.process_tree.show(snapshot, self.needle, session.last_diff(), keep=keep_pid, gone=self._gone())
        self.show_process(self.process_tree.selected_pid, keep_tid)
        self.query_one(DiagnosesPanel).show(snapshot)
        self.query_one(EventLog).show(session.events)
        self.update_bindings()

    def update_bindings(self) -> None:
        """Redraw the footer when some key became enabled or disabled (not on every refresh)."""
        state = tuple(self.check_action(b.action, ()) for b in bindings_of(type(self)))
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _gone(self) -> list[tuple[Process, str]]:
        return [(d.process, d.how) for d in self.session.lingering()]

    def show_process(self, pid: Optional[int], keep_tid: Optional[int] = None) -> None:
        snapshot = self.session.current
        if snapshot is not None:
            proc = snapshot.process(pid) if pid is not None else None
            gone = next((d for d in self.session.lingering() if d.process.pid == pid), None) if proc is None else None
            if gone is not None:  # a process that left: its last stacks, said to be the last
                self.threads.show(snapshot, gone.process, keep_tid, self.session.show_locals, gone=f"{gone.how} at {clock(gone.left)}")
                return
            members = self.process_tree.members(pid) if pid is not None else ()
            self.threads.show(snapshot, proc, keep_tid, self.session.show_locals, members=members)

    def on_process_selected(self, message: ProcessSelected) -> None:
        self.show_process(message.pid)

    def on_event_chosen(self, message: EventChosen) -> None:
        """Enter on a worker's death: the core file it left, opened like `pooltui open CORE`."""
        event, source = message.event, self.source
        path = source.core_of(event.pid) if event.kind is EventKind.PROCESS_EXITED and isinstance(source, CoreOpener) else None
        if path is None:
            self.notify("no core file is known for this event (only a worker's death whose core pooltui found)", timeout=4, markup=False)
            return
        self.notify(f"reading the core file {path}…", timeout=3, markup=False)
        self._open_core(source, event.pid)  # type: ignore[arg-type]

    @work(exclusive=True, group="open-core")
    async def _open_core(self, source: CoreOpener, pid: int) -> None:
        from pooltui.ui.screens.core import CoreScreen

        try:
            core = await source.open_core(pid)
        except Exception as exc:  # a Failure (a core that cannot be read) or worse: said, never a crash
            text = one_line((exc.message if isinstance(exc, Failure) else "") or str(exc) or type(exc).__name__, 300)
            self.notify(text, title="core file not read", severity="error", timeout=10, markup=False)
            return
        self.app.push_screen(CoreScreen(core))

    def on_follow_holder(self, message: FollowHolder) -> None:
        snapshot = self.session.current
        if snapshot is None or snapshot.process(message.pid) is None:
            self.notify(f"the lock holder, pid {message.pid}, is not in this snapshot", severity="warning", markup=False)
            return
        if message.pid not in self.process_tree.pids:
            self._set_filter("")
        self.process_tree.show(snapshot, self.needle, self.session.last_diff(), keep=message.pid, gone=self._gone())
        self.show_process(message.pid, message.tid)
        self.threads.thread_list.focus()
        if message.fork:
            self.notify(
                "the parent's thread that held the lock when the worker was forked (the worker's copy stays locked: "
                "nothing in the worker can release it)",
                title="holder at fork()",
                timeout=6,
                markup=False,
            )

    # -- keys ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        session = self.session
        if action in LIVE_ONLY:
            if not session.live or session.target_gone:
                return None  # shown dimmed: there is no running process to read
            if action == "dump" and self.process_tree.selected_pid is None:
                return None
        if action == "toggle_locals" and not (session.live and not session.target_gone):
            return True if session.current is not None and _has_locals(session.current) else None  # a report: show/hide what it holds
        if action == "diff":
            return True if session.base is not None and session.current is not None else None
        if action == "wait_chain":
            return True if session.current is not None and self._selected_node() is not None else None
        if action in ("mark", "save", "copy"):
            return True if session.current is not None else None
        if action in ("next_match", "previous_match"):
            return bool(self.needle)  # hidden until there is a search
        if action == "clear_filter":
            return bool(self.needle) or self.query_one("#filter", Input).display
        return True

    def action_dump(self) -> None:
        pids = self.process_tree.selected_row  # a group: each of its processes
        what = f"dump pid {pids[0]}" if len(pids) == 1 else f"dump {len(pids)} processes"
        self.app.request_capture(what, pids=pids or None)

    def action_dump_all(self) -> None:
        current = self.session.current  # every process dumped afresh, none reused
        self.app.request_capture("dump all", pids=tuple(p.pid for p in current.processes) if current is not None else None)

    def action_pause(self) -> None:
        session = self.session
        session.paused = not session.paused
        self.notify("auto-refresh paused" if session.paused else "auto-refresh resumed", timeout=2)
        self.redraw()

    def action_toggle_locals(self) -> None:
        session = self.session
        session.show_locals = not session.show_locals
        if session.live and not session.target_gone:
            self.app.options = replace(self.app.options, locals=session.show_locals)
            self.app.request_capture("locals " + ("on" if session.show_locals else "off"))
        self.notify("locals shown" if session.show_locals else "locals hidden", timeout=2)
        self.redraw()

    def action_toggle_native(self) -> None:
        self.app.options = replace(self.app.options, native=not self.app.options.native)
        self.app.request_capture("native " + ("on" if self.app.options.native else "off"))
        self.redraw()

    def action_mark(self) -> None:
        session = self.session
        session.marked = session.current
        if session.current is not None:
            self.notify(f"marked the {clock(session.current.created)} snapshot as the diff base", timeout=3)
        self.update_bindings()

    def action_diff(self) -> None:
        from pooltui.ui.screens.diff import DiffScreen

        diff = self.session.diff()
        pid = self.process_tree.selected_pid
        if diff is not None and pid is not None:
            self.app.push_screen(DiffScreen(diff, pid, marked=self.session.marked is not None))

    def action_save(self) -> None:
        from pooltui.ui.screens.save import SaveDialog

        session = self.session
        if session.current is None:
            return
        snapshot = session.current
        if session.events and not snapshot.events:
            snapshot = snapshot.with_(events=tuple(session.events))
        host = re.sub(r"[^A-Za-z0-9._-]+", "_", snapshot.host).strip(".") or "host"  # a loaded report's host may hold "../"
        name = f"pooltui-{host}-{snapshot.root_pid}-{stamp(snapshot.created)}.json"
        if not self.app.is_web:  # a browser downloads it; here: one folder for every report, not wherever pooltui started
            name = os.path.join(reports_folder(), name)
        self.app.push_screen(SaveDialog(snapshot, name), self._saved)

    def _saved(self, path: Optional[str]) -> None:
        if path and not self.app.is_web:
            path = os.path.abspath(path)  # say where it went, whatever was typed
        if path:
            self.notify(f"report saved to {path}", title="saved", timeout=5, markup=False)

    # the search box (the rest of the search: SearchKeys): textual calls an @on handler only
    # from a class its metaclass built, a Screen, never from a plain mixin (textual#3930)
    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.search_typed(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.search_submitted(event.value)

    def _panes(self) -> list[Widget]:
        return [self.process_tree, self.threads.thread_list, self.query_one(DiagnosesPanel), self.query_one(EventLog)]

    def _cycle_pane(self, step: int) -> None:
        panes = self._panes()
        at = next((i for i, pane in enumerate(panes) if pane.has_focus), -1)
        panes[(at + step) % len(panes)].focus()

    def action_switch_pane(self) -> None:
        self._cycle_pane(1)

    def action_switch_pane_back(self) -> None:
        self._cycle_pane(-1)

    def action_copy(self) -> None:
        """The focused pane's selection as Markdown, for a ticket: a thread (wait + stack),
        the selected process (tree), or every verdict (diagnoses, events)."""
        from pooltui.report.markdown import diagnoses_markdown, process_markdown, thread_markdown

        snapshot = self.session.current
        if snapshot is None:
            return
        proc, thread = self.threads.process, self.threads.thread_list.selected
        if self.threads.thread_list.has_focus and proc is not None and thread is not None:
            text, what = thread_markdown(proc, thread), f"thread {thread.label!r} of pid {proc.pid}"
        elif self.process_tree.has_focus and proc is not None:
            text, what = process_markdown(proc), f"pid {proc.pid} ({len(proc.threads)} threads)"
        else:
            text, what = diagnoses_markdown(snapshot), f"{len(snapshot.diagnoses)} verdict(s)"
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {what} as Markdown (terminals with OSC 52 put it on the clipboard)", timeout=4, markup=False)

    def _selected_node(self) -> Optional[tuple[int, int]]:
        proc, thread = self.threads.process, self.threads.thread_list.selected
        return (proc.pid, thread.tid) if proc is not None and thread is not None else None

    def action_wait_chain(self) -> None:
        from pooltui.ui.screens.waits import WaitChainScreen

        snapshot, node = self.session.current, self._selected_node()
        if snapshot is not None and node is not None:
            self.app.push_screen(WaitChainScreen(snapshot, node))

    def action_help(self) -> None:
        from pooltui.ui.screens.help import HelpScreen

        opens = [b for b in bindings_of(EventLog) if b.action == "choose"]  # its up/down are every pane's
        self.app.push_screen(HelpScreen([b for node in (type(self), ProcessTree, ThreadList, DiagnosesPanel) for b in bindings_of(node)] + opens))

    async def action_quit(self) -> None:
        self.app.exit()
