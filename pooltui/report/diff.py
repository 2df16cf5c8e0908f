"""`pooltui diff A.json B.json`: what changed between two reports of one tree, as text,
Markdown or JSON. The comparison is ``analysis.diff`` (the TUI's `x` view uses the same)
and the events are ``analysis.timeline``'s."""

from __future__ import annotations

import json
from typing import Any

from pooltui.analysis.diff import Change, ProcessDiff, SnapshotDiff, ThreadDiff, replacements
from pooltui.analysis.timeline import events_between
from pooltui.model import Diagnosis, Process, ProcessStatus, Thread, ThreadRole
from pooltui.report.text import one_line

DIFF_SCHEMA = "pooltui.diff/1"
FORMATS = ("text", "md", "json")


def _proc(p: Process) -> str:
    return one_line(f"{p.role_label} (pid {p.pid})", 80)


def _top(t: Thread) -> str:
    """The innermost frame, where a thread stands."""
    if not t.frames:
        return "(no frames)"
    f = t.frames[0]
    return one_line(f"{f.function} at {f.where}", 120)


def _thread_name(t: Thread) -> str:
    return one_line(t.label, 60) + (f" ({one_line(t.role, 30)})" if t.role and t.role != ThreadRole.THREAD else "")


def _moved(pd: ProcessDiff) -> list[ThreadDiff]:
    return [t for t in pd.threads if t.change is not Change.SAME and not t.thread.ghost]


def to_data(diff: SnapshotDiff) -> dict[str, Any]:
    """The diff as plain data (the JSON format)."""

    def proc(p: Process) -> dict[str, Any]:
        return {"pid": p.pid, "ppid": p.ppid, "create_time": p.create_time, "role": p.role_label, "status": p.status}

    def diag(d: Diagnosis) -> dict[str, Any]:
        return {
            "kind": d.kind.value,
            "severity": d.severity.value,
            "certainty": d.certainty.value,
            "subject": d.subject,
            "summary": d.summary,
            "pids": list(d.pids),
            "evidence": list(d.evidence),
            "fix": d.fix,
        }

    return {
        "schema": DIFF_SCHEMA,
        "before": {"created": diff.before.created, "host": diff.before.host, "root_pid": diff.before.root_pid},
        "after": {"created": diff.after.created, "host": diff.after.host, "root_pid": diff.after.root_pid},
        "seconds": diff.seconds,
        "changed": diff.changed,
        "added": [proc(p) for p in diff.added],
        "removed": [proc(p) for p in diff.removed],
        "replaced": [{"old": old.pid, "new": new.pid} for old, new in replacements(diff)],
        "processes": [
            {
                "pid": pd.pid,
                "role": pd.after.role_label,
                "status": [pd.before.status, pd.after.status],
                "threads": [
                    {
                        "tid": t.tid,
                        "name": t.thread.name,
                        "change": t.change.value,
                        "before": _top(t.before) if t.before else None,
                        "after": _top(t.after) if t.after else None,
                    }
                    for t in pd.threads
                    if not t.thread.ghost
                ],
            }
            for pd in diff.kept
        ],
        "events": [{"time": e.time, "kind": e.kind, "pid": e.pid, "detail": e.detail} for e in events_between(diff.before, diff.after)],
        "new_diagnoses": [diag(d) for d in diff.new_diagnoses],
        "resolved_diagnoses": [diag(d) for d in diff.resolved_diagnoses],
    }


def _lines(diff: SnapshotDiff, md: bool) -> list[str]:
    h2, bullet, code = ("## ", "- ", "`") if md else ("", "  ", "")
    out = []
    head = f"pid {diff.before.root_pid} on {one_line(diff.before.host, 60)}: {diff.seconds:+.1f} s between the two reports"
    out += [f"# pooltui diff\n\n{head}\n" if md else f"pooltui diff · {head}"]
    if not diff.changed:
        return [*out, "no change: the same processes, the same stacks, the same verdicts"]
    heirs = {old.key: new for old, new in replacements(diff)}
    tree = [f"{bullet}exited   {_proc(p)}" + (f" → replaced by {_proc(heirs[p.key])}" if p.key in heirs else "") for p in diff.removed]
    died = [pd for pd in diff.kept if pd.after.status == ProcessStatus.ZOMBIE != pd.before.status]
    tree += [f"{bullet}zombie   {_proc(pd.before)}: {pd.after.exit_text}" for pd in died]
    fresh = {new.key for new in heirs.values()}
    tree += [f"{bullet}new      {_proc(p)}" for p in diff.added if p.key not in fresh]
    tree += [f"{bullet}new      {_proc(p)} (replacement)" for p in diff.added if p.key in fresh]
    tree += [f"{bullet}role     pid {pd.pid}: {pd.before.role_label} → {pd.after.role_label}" for pd in diff.kept if pd.before.role != pd.after.role]
    out += [f"\n{h2}processes", *(tree or [f"{bullet}the same {len(diff.kept)} processes"])]
    out.append(f"\n{h2}threads")
    for pd in diff.kept:
        same = pd.count(Change.SAME)
        moved = _moved(pd)
        out.append(f"{bullet}{_proc(pd.after)}: " + (", ".join(f"{pd.count(c)} {c.value}" for c in Change if pd.count(c)) or "no threads"))
        if not moved and same:
            continue
        for t in moved:
            if t.change is Change.CHANGED and t.before and t.after:
                what = f"{code}{_top(t.before)}{code} → {code}{_top(t.after)}{code}"
            elif t.change is Change.NEW and t.after:
                what = f"started, at {code}{_top(t.after)}{code}"
            else:
                what = "ended"
            out.append(f"{'  ' if md else '    '}{bullet}{t.change.value:<7} {_thread_name(t.thread)}: {what}")
    for title, items in (("new diagnoses", diff.new_diagnoses), ("resolved diagnoses", diff.resolved_diagnoses)):
        if items:
            out.append(f"\n{h2}{title}")
            out += [f"{bullet}{d.severity.value}: {one_line(d.kind, 40)}: {one_line(d.summary, 400)}" for d in items]
    events = events_between(diff.before, diff.after)
    if events:
        out.append(f"\n{h2}events")
        out += [f"{bullet}{one_line(e.detail or e.kind, 300)}" for e in events]
    return out


def render_diff(diff: SnapshotDiff, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(to_data(diff), indent=1, ensure_ascii=False) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return "\n".join(_lines(diff, fmt == "md")) + "\n"
