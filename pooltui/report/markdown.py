"""Markdown report: what someone pastes into a postmortem.

Tree with roles and states, diagnoses with evidence and fixes, locks, then every
process with its threads, wait lines and stacks (innermost frame first, as py-spy
prints them; the user's own frames marked with ▶).
"""

from __future__ import annotations

import time
from typing import Optional

from pooltui.analysis.frames import origin
from pooltui.analysis.waits import process_state
from pooltui.model import Process, Snapshot, Thread, Timeline
from pooltui.report.text import clean, cmdline, human_bytes, percent, tree_rows


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))


def _fence(lines: list[str]) -> list[str]:
    body = [line.replace("```", "ˋˋˋ") for line in lines]
    return ["```", *body, "```"]


def process_line(proc: Process) -> str:
    py = f"py{proc.python}" if proc.python else "-"
    return (
        f"{proc.pid:<7} {clean(proc.role_label):<18} {process_state(proc):<10} {py:<7} "
        f"cpu {percent(proc.cpu_percent):>4}  rss {human_bytes(proc.rss):>6}  {cmdline(proc.cmdline, 60)}"
    )


def stack_lines(thread: Thread, indent: str = "    ") -> list[str]:
    lines = []
    for frame in thread.frames:
        mark = "▶ " if origin(frame) == "user" else "  "
        code = f"    {clean(frame.code, 100)}" if frame.code else ""
        lines.append(f"{indent}{mark}{clean(frame.function)} ({clean(frame.where)}){code}")
        for loc in frame.locals or ():
            lines.append(f"{indent}      {clean(loc.name)} = {clean(loc.repr, 120)}")
    return lines


def thread_heading(thread: Thread) -> str:
    name = clean(thread.name) if thread.name else f"Thread {thread.tid}"
    wait = clean(thread.wait.summary) if thread.wait else ""
    holder = f" — held by {clean(thread.wait.holder)}" if thread.wait and thread.wait.holder else ""
    return f"**{name}** ({thread.role}, tid {thread.tid}): {wait}{holder}"


def render_markdown(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> str:
    threads = sum(len(p.threads) for p in snapshot.processes)
    out = [
        f"# pooltui report — pid {snapshot.root_pid} on {clean(snapshot.host)}",
        "",
        f"Taken {_when(snapshot.created)} · {len(snapshot.processes)} processes, {threads} Python threads"
        f" · pooltui {clean(snapshot.tools.get('pooltui', '?'))}",
        "",
        "## Diagnoses",
        "",
    ]
    if not snapshot.diagnoses:
        out += ["No problems found.", ""]
    for d in snapshot.diagnoses:
        out.append(f"- **{d.severity.value}** `{d.kind}`: {clean(d.summary)}")
        out += [f"  - {clean(e)}" for e in d.evidence]
        if d.fix:
            out.append(f"  - *Fix:* {clean(d.fix)}")
    out += ["", "## Process tree", ""]
    rows = tree_rows(snapshot.processes, snapshot.root_pid)
    width = max(len(prefix) for prefix, _ in rows)
    out += _fence([f"{prefix:<{width}}" + process_line(p) for prefix, p in rows])
    if snapshot.locks:
        out += ["", "## Locks", ""]
        for lock in snapshot.locks:
            holder = lock.holder
            who = "owner unknown" if holder is None else f"held by pid {holder.pid} tid {holder.tid} {clean(holder.thread_name or '')}"
            out.append(
                f"- `{clean(lock.name)}` ({lock.kind}, pid {lock.pid}, 0x{lock.addr:x}): {who}; "
                f"{len(lock.waiters)} waiter(s) {clean(lock.note)}"
            )
    events = list(snapshot.events) + (list(timeline.events) if timeline else [])
    if events:
        out += ["", "## Events", ""]
        out += [f"- {_when(e.time)} pid {e.pid} {e.kind}: {clean(e.detail)}" for e in events]
    out += ["", "## Processes", ""]
    for _, proc in tree_rows(snapshot.processes, snapshot.root_pid):
        out.append(f"### pid {proc.pid} — {clean(proc.role_label)} ({process_state(proc)})")
        out += ["", f"`{cmdline(proc.cmdline, 200)}`", ""]
        if proc.error is not None:
            out += [f"**Could not read:** {clean(proc.error.message)}", "", f"{clean(proc.error.help)}", ""]
            continue
        for thread in proc.threads:
            out += [thread_heading(thread), ""]
            out += _fence(stack_lines(thread))
            out.append("")
    return "\n".join(out).rstrip() + "\n"
