"""Markdown report: what someone pastes into a postmortem.

Tree with roles and states, diagnoses with evidence and fixes, locks, then every
process with its threads, wait lines and stacks (innermost frame first, as py-spy
prints them; the user's own frames marked with ▶).
"""

from __future__ import annotations

import re
import time
from typing import Optional

from pooltui.analysis.frames import origin
from pooltui.analysis.locks import holder_text
from pooltui.analysis.waits import process_state
from pooltui.model import Diagnosis, Process, Snapshot, Thread, Timeline
from pooltui.report.text import cmdline, group_processes, group_threads, human_bytes, one_line, percent, pid_list, tree_rows

# Markdown that a captured string could start: HTML (<script>), links, code spans, emphasis.
# An underscore inside a word (pool_worker) is left alone: CommonMark does not emphasise it.
_MD_SPECIAL = re.compile(r"[\\`*<>\[\]]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _md(text: object, limit: int = 0) -> str:
    """A captured string as Markdown text: one line, control characters shown, markup escaped."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), one_line(str(text or ""), limit))


def _code(text: object, limit: int = 0) -> str:
    """A captured string inside a `code span`: a backtick in it would end the span."""
    return one_line(str(text or ""), limit).replace("`", "ˋ") or " "


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))


def _fence(lines: list[str]) -> list[str]:
    body = [line.replace("```", "ˋˋˋ") for line in lines]
    return ["```", *body, "```"]


def process_line(proc: Process, role_width: int = 18) -> str:
    """One tree row; ``role_width``: the widest role of the tree, so long roles keep the columns aligned."""
    py = f"py{proc.python}" if proc.python else "-"
    return (
        f"{proc.pid:<7} {one_line(proc.role_label):<{role_width}} {process_state(proc):<10} {one_line(py):<7} "
        f"cpu {percent(proc.cpu_percent):>4}  rss {human_bytes(proc.rss):>6}  {cmdline(proc.cmdline, 60)}"
    )


def stack_lines(thread: Thread, indent: str = "    ") -> list[str]:
    lines = []
    for frame in thread.frames:
        kind = origin(frame)
        if kind == "native":  # a C frame (--native): its library, never marked as the user's
            lines.append(f"{indent}· {one_line(frame.function)} ({one_line(frame.short_file or frame.file)}, native)")
            continue
        mark = "▶ " if kind == "user" else "  "
        code = f"    {one_line(frame.code, 100)}" if frame.code else (f"    ({one_line(frame.code_note, 100)})" if frame.code_note else "")
        lines.append(f"{indent}{mark}{one_line(frame.function)} ({one_line(frame.where)}){code}")
        for loc in frame.locals or ():
            lines.append(f"{indent}      {one_line(loc.name)} = {one_line(loc.repr, 120)}")
    return lines


def _more(threads: tuple[Thread, ...]) -> str:
    """For a group of identical threads: how many, and the others' names."""
    if len(threads) == 1:
        return ""
    others = ", ".join(_md(t.label) for t in threads[1:8]) + (", …" if len(threads) > 8 else "")
    return f" — **×{len(threads)}** with the same stack: {others}"


def thread_heading(thread: Thread) -> str:
    name = _md(thread.name) if thread.name else f"Thread {thread.tid}"
    wait = _md(thread.wait.summary) if thread.wait else ""
    holder = f" — held by {_md(thread.wait.unsaid_holder)}" if thread.wait and thread.wait.unsaid_holder else ""
    return f"**{name}** ({_md(thread.role)}, tid {thread.tid}): {wait}{holder}"


def diagnosis_lines(d: Diagnosis) -> list[str]:
    """One verdict as a Markdown list item with its evidence and fix."""
    out = [f"- **{d.severity.value}** `{_code(d.kind)}` ({_md(d.certainty.value)}): {_md(d.summary)}"]
    out += [f"  - {_md(e)}" for e in d.evidence]
    if d.fix:
        out.append(f"  - *Fix:* {_md(d.fix)}")
    return out


def thread_markdown(proc: Process, thread: Thread) -> str:
    """One thread as pasted into a ticket: where it is, what it waits on, its stack."""
    head = f"pid {proc.pid} — {_md(proc.role_label)} ({process_state(proc)})"
    return "\n".join([head, "", thread_heading(thread), "", *_fence(stack_lines(thread))]) + "\n"


def process_markdown(proc: Process) -> str:
    """A process with every thread's wait line and stack."""
    out = [f"pid {proc.pid} — {_md(proc.role_label)} ({process_state(proc)})", "", f"`{_code(cmdline(proc.cmdline, 200) or proc.name)}`", ""]
    for thread in proc.threads:
        out += [thread_heading(thread), "", *_fence(stack_lines(thread)), ""]
    return "\n".join(out).rstrip() + "\n"


def diagnoses_markdown(snapshot: Snapshot) -> str:
    """Every verdict of a snapshot, most severe first."""
    out = [f"pooltui — pid {snapshot.root_pid} on {_md(snapshot.host)}, {_when(snapshot.created)}", ""]
    for d in snapshot.diagnoses:
        out += diagnosis_lines(d)
    return "\n".join(out if snapshot.diagnoses else [*out, "No problems found."]) + "\n"


def render_markdown(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> str:
    thread_count = snapshot.python_threads
    out = [
        f"# pooltui report — pid {snapshot.root_pid} on {_md(snapshot.host)}",
        "",
        f"Taken {_when(snapshot.created)} · {len(snapshot.processes)} processes, {thread_count} Python threads"
        f" · pooltui {_md(snapshot.tools.get('pooltui', '?'))}",
        "",
        "## Diagnoses",
        "",
    ]
    if not snapshot.diagnoses:
        out += ["No problems found.", ""]
    for d in snapshot.diagnoses:
        out += diagnosis_lines(d)
    if snapshot.notes:
        out += ["", "Notes:", *[f"- {_md(n)}" for n in snapshot.notes]]
    out += ["", "## Process tree", ""]
    rows = tree_rows(snapshot.processes, snapshot.root_pid)
    width = max((len(prefix) for prefix, _ in rows), default=0)
    roles = max((len(one_line(p.role_label)) for _, p in rows), default=18)
    out += _fence([f"{prefix:<{width}}" + process_line(p, roles) for prefix, p in rows])
    if snapshot.locks:
        out += ["", "## Locks", ""]
        for lock in snapshot.locks:
            waiters = ", ".join(f"pid {p} tid {t}" for p, t in lock.waiters)
            held = _md(holder_text(lock))  # with no holder: why not ("a plain threading.Lock records no owner")
            out.append(
                f"- `{_code(lock.name)}` ({_md(lock.kind)}, pid {lock.pid}, 0x{lock.addr:x}): {'held by ' if lock.holder is not None else ''}{held}; "
                f"waiters: {waiters or 'none'}" + (f" — {_md(lock.note)}" if lock.note and lock.holder is not None else "")
            )
    events = list(snapshot.events) + (list(timeline.events) if timeline else [])
    if events:
        out += ["", "## Events", ""]
        out += [f"- {_when(e.time)} pid {e.pid} {_md(e.kind)}: {_md(e.detail)}" for e in events]
    out += ["", "## Processes", ""]
    ordered = [p for _, p in tree_rows(snapshot.processes, snapshot.root_pid)]
    for group in group_processes(ordered, snapshot.diagnoses):  # identical workers once, with their count
        proc = group[0]
        if len(group) > 1:
            out.append(f"### {len(group)} × {_md(proc.role)} ({process_state(proc)}), the same stacks — pids {pid_list(group)}")
        else:
            out.append(f"### pid {proc.pid} — {_md(proc.role_label)} ({process_state(proc)})")
        out += ["", f"`{_code(cmdline(proc.cmdline, 200) or proc.name)}`", ""]
        if proc.error is not None:
            out += [f"**Could not read:** {_md(proc.error.message)}", "", f"{_md(proc.error.help)}", ""]
            continue
        for threads in group_threads(proc.threads):
            out += [thread_heading(threads[0]) + _more(threads), ""]
            out += _fence(stack_lines(threads[0]))
            out.append("")
    return "\n".join(out).rstrip() + "\n"
