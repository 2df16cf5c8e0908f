"""How model facts look on screen: badges, stack lines, times, as Textual ``Content``.

Every captured string goes through ``report.text.one_line`` here (it may hold terminal
escapes) and is placed as plain text, never parsed as markup. Styles name theme
variables (``$error``, ``$text-muted``...) so the theme decides the colours.
"""

from __future__ import annotations

import re
import textwrap
import time
from typing import Optional

from textual.content import Content

from pooltui.analysis.frames import origin
from pooltui.model import Diagnosis, Event, EventKind, Frame, Kind, Process, Severity, Snapshot, Thread
from pooltui.report.text import clean, one_line
from pooltui.ui.follow import Follow

STATE_STYLE = {
    "running": "$success bold",
    "idle": "$text-muted",
    "sleeping": "$text-muted",
    "waiting": "$text-primary",
    "blocked": "$warning bold",
    "stopped": "$error bold",
    "traced": "$error bold",
    "zombie": "$error",
    "gone": "$error",
    "crashed": "$error bold",
    "not python": "$text-disabled",
    "error": "$error bold",
}
SEVERITY_STYLE = {Severity.ERROR: "$error bold", Severity.WARNING: "$warning bold", Severity.INFO: "$accent"}
SEVERITY_MARK = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}
ORIGIN_STYLE = {"user": "bold", "library": "$text-muted", "stdlib": "$text-muted", "native": "$text-muted italic"}
WAIT_STYLE = {"running": "$text-success", "idle": "$text-muted italic"}
CHANGE_STYLE = {"same": "$text-muted", "changed": "$warning bold", "new": "$success bold", "gone": "$error bold"}


def clock(ts: Optional[float]) -> str:
    """Local wall-clock time of a snapshot (tests pin TZ for stable screenshots)."""
    return "--:--:--" if ts is None else time.strftime("%H:%M:%S", time.localtime(ts))


def stamp(ts: float) -> str:
    """A file-name-safe local timestamp: 20250131-142501."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(ts))


def badge(state: str) -> Content:
    return Content.styled(state, STATE_STYLE.get(state, ""))


def severity(d: Diagnosis) -> Content:
    return Content.styled(f"{SEVERITY_MARK[d.severity]} {d.severity.value}", SEVERITY_STYLE[d.severity])


def frame_line(frame: Frame, indent: str = "    ") -> Content:
    """``    hold_lock  pool_target.py:32  time.sleep(seconds)`` styled by whose code it is."""
    kind = origin(frame)
    style = ORIGIN_STYLE[kind]
    if kind == "native":  # a C frame (--native): its library, no line, said to be native; never ▶
        return Content.assemble(
            indent,
            ("· ", "$text-muted"),
            (one_line(frame.function, 60), style),
            ("  ", ""),
            (one_line(frame.short_file or frame.file, 80), style),
            ("  native", "$text-disabled"),
        )
    code = one_line((frame.code or "").strip(), 120)
    mark = "▶ " if kind == "user" else "  "
    return Content.assemble(
        indent,
        (mark, "$accent" if kind == "user" else ""),
        (one_line(frame.function, 60), style),
        ("  ", ""),
        (one_line(frame.where, 80), "$text-muted" if kind == "user" else style),
        *((("  ", ""), (code, "$text" if kind == "user" else "$text-muted")) if code else ()),
        *((("  ", ""), (one_line(frame.code_note, 120), "$text-muted italic")) if frame.code_note and not code else ()),
    )


def locals_lines(frame: Frame, limit: int = 12, indent: str = "        ") -> list[Content]:
    out = []
    for loc in (frame.locals or ())[:limit]:
        out.append(Content.assemble(indent, (one_line(loc.name, 40), "$accent"), " = ", (one_line(loc.repr, 100), "$text-muted")))
    extra = len(frame.locals or ()) - limit
    if extra > 0:
        out.append(Content.styled(f"{indent}… {extra} more locals", "$text-muted"))
    return out


def thread_title(thread: Thread, mark: str = "") -> Content:
    return Content.assemble(
        (one_line(thread.label, 60), "bold"),
        ("  ", ""),
        (one_line(thread.role, 40), "$accent"),
        (f"  tid {thread.tid}", "$text-muted"),
        *((("  holds GIL", "$warning"),) if thread.owns_gil else ()),
        # ‖, not ⏸: browser fonts (pooltui serve) lack U+23F8 and draw a box
        *((("  ", ""), (f"‖ {mark}", "$warning bold")) if mark else ()),
    )


def thread_marks(snapshot: Snapshot) -> dict[int, str]:
    """tid -> a badge for threads a verdict over time names ("stuck 6 s", "spinning")."""
    marks: dict[int, str] = {}
    for d in snapshot.diagnoses:
        label = {Kind.STUCK_THREAD: "stuck", Kind.BUSY_SPIN: "spinning"}.get(d.kind)
        if label:
            seconds = _seconds(d.summary)
            for tid in d.tids:
                marks.setdefault(tid, f"{label} {seconds}".strip())
    return marks


def _seconds(summary: str) -> str:
    m = re.search(r"for (\d+ s)\b", summary)
    return m.group(1) if m else ""


def wait_lines(thread: Thread, go: Optional[Follow] = None, width: int = 100) -> list[Content]:
    """The wait summary, wrapped (it is the line a reader came for: never cut it off);
    ``go``: where `enter` goes from this thread (ui.follow), said under it."""
    if thread.wait is None:
        return []
    kind = thread.wait.kind
    style = WAIT_STYLE.get(kind.value, "$text-warning" if kind.is_lock else "$text-primary")
    wrapped = textwrap.wrap(one_line(thread.wait.summary, 600), max(30, width - 2), subsequent_indent="  ", break_on_hyphens=False)
    lines = [Content.assemble("  ", (line, style)) for line in wrapped]
    holder = thread.wait.unsaid_holder
    go_to = ""
    if go is not None and go.fork:
        go_to = "the parent's thread that held it at fork()"
    elif go is not None and go.possible and go.tid:
        go_to = "the holder"
    if holder:
        hint = f"  (enter: go to {go_to})" if go_to else ""
        lines.append(Content.assemble("  ", ("held by ", "$text-muted"), (one_line(holder, 200), "$warning bold"), (hint, "$text-muted")))
    elif go_to:
        lines.append(Content.styled(f"  enter: go to {go_to}", "$text-muted"))
    return lines


def thread_block(thread: Thread, go: Optional[Follow] = None, show_locals: bool = False, width: int = 100, mark: str = "") -> Content:
    """One thread as the stack pane shows it: title, wait line(s), stack innermost first."""
    lines = [thread_title(thread, mark), *wait_lines(thread, go, width)]
    for frame in thread.frames:
        lines.append(frame_line(frame))
        if show_locals and frame.locals:
            lines.extend(locals_lines(frame))
    if not thread.frames:
        lines.append(Content.styled("    (no frames)", "$text-muted"))
    return Content("\n").join(lines)


def process_title(proc: Process, state: str, gone: bool = False, members: tuple[int, ...] = ()) -> Content:
    """``gone``: the process left the tree; ``state`` then says how and when. ``members``: the
    tree's group ``proc`` is shown for; the second line lists their pids before the command line."""
    py = f"  py{proc.python}" if proc.python else ""
    alike = (
        Content.assemble((f"×{len(members)} alike, these stacks: ", "$accent bold"), (_pids(members), ""), ("  (g: one row each)  ", "$text-muted"))
        if len(members) > 1
        else Content("")
    )
    return Content.assemble(
        (one_line(proc.role_label, 40), "bold"),
        (f"  pid {proc.pid}", ""),
        ("  ", ""),
        (one_line(state, 60) + " · its last stacks", "$error italic") if gone else badge(state),
        (py, "$text-muted"),
        (f"  {len(proc.threads)} Python thread(s)" if proc.threads else "", "$text-muted"),
        ("  (stacks from the previous dump)" if proc.reused else "", "$text-muted italic"),
        "\n",
        alike,
        (one_line(" ".join(proc.cmdline) or proc.name, 300), "$text-muted"),
    )


def _pids(pids: tuple[int, ...]) -> str:
    return " ".join(str(p) for p in pids)


def process_error(proc: Process) -> Content:
    err = proc.error
    if err is None:
        return Content("")
    parts: list[Content] = [Content.assemble(("cannot read this process: ", "$error bold"), (one_line(err.message, 300), "$error"))]
    if err.detail:
        parts.append(Content.assemble(("py-spy said: ", "$text-muted"), clean(err.detail, 600)))
    if err.help:
        parts.append(Content.assemble(("what to do: ", "$accent"), one_line(err.help, 600)))
    return Content("\n").join(parts)


def diagnosis_block(d: Diagnosis) -> Content:
    lines = [Content.assemble(severity(d), "  ", (one_line(d.summary, 400), "bold"))]
    lines.extend(Content.assemble("    · ", (one_line(e, 300), "$text-muted")) for e in d.evidence)
    if d.fix:
        lines.append(Content.assemble("    fix: ", (one_line(d.fix, 400), "$accent")))
    return Content("\n").join(lines)


EVENT_STYLE = {
    EventKind.PROCESS_EXITED: "$error",
    EventKind.WORKER_REPLACED: "$warning",
    EventKind.PROCESS_NEW: "$success",
    EventKind.PROCESS_REAPED: "$text-muted",
    EventKind.THREAD_NEW: "$text-success",
    EventKind.THREAD_GONE: "$text-warning",
    EventKind.ROLE_CHANGED: "$text-primary",
}


def event_line(e: Event) -> Content:
    return Content.assemble((clock(e.time), "$text-muted"), "  ", (one_line(e.detail or f"{e.kind} pid {e.pid}", 300), EVENT_STYLE.get(e.kind, "")))
