"""`pooltui ps` output: a plain-text table for people and the ``pooltui.ps/1`` JSON for
scripts; ``cells`` (one tree's escaped fields) is shared with the TUI's picker.

JSON shape (stable; new keys may be added, none removed or changed in meaning)::

    {"schema": "pooltui.ps/1", "taken": EPOCH, "host": STR, "cpus": INT, "window_seconds": FLOAT,
     "basis": STR,                       # what the verdicts are based on
     "trees": [{"root_pid": INT, "program": STR, "python": "3.11" | null,
                "pids": [INT, ...], "roles": [{"role": STR, "count": INT}, ...],
                "state": "running" | "sleeping" | "stopped" | "zombie" | "unreadable" | "gone" | ...,
                "cpu_percent": FLOAT, "age_seconds": FLOAT,
                "hung": BOOL, "verdicts": [{"kind": STR, "text": STR, "hung": BOOL}, ...],
                "error": null | {"code": "permission" | "unreadable" | "gone", "message": STR}}, ...],
     "vanished": INT,                    # exited before anything could be read of them
     "unchecked": INT,                   # not readable enough to tell whether they run Python
     "notes": [STR, ...]}                # what could not be seen at all (/proc mounted with hidepid)
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pooltui.analysis.census import with_basis
from pooltui.model.census import PS_SCHEMA, Census, PsTree
from pooltui.report.text import one_line

HUNG_MARK = "!"
COLUMNS = ("", "PID", "PROGRAM", "PY", "ROLES", "STATE", "CPU", "AGE", "VERDICT")
_WIDTHS = (1, 7, 22, 4, 30, 10, 5, 6)  # the verdict takes what is left


def age_text(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def roles_text(tree: PsTree) -> str:
    return ", ".join(r.role if r.count == 1 else f"{r.role} ×{r.count}" for r in tree.roles)


def verdict_text(tree: PsTree) -> str:
    if tree.error:
        return tree.error_message
    verdict = tree.verdict
    if verdict is None:
        return ""
    more = len(tree.verdicts) - 1
    return verdict.text + (f" (+{more} more verdict{'s' if more > 1 else ''})" if more else "")


def cells(tree: PsTree) -> tuple[str, ...]:
    """One tree's fields, escaped and bounded (argv, comm and paths are the target's)."""
    return (
        HUNG_MARK if tree.hung else "",
        str(tree.root_pid),
        one_line(tree.program, 40),
        tree.python or "-",
        one_line(roles_text(tree), 80),
        tree.state,
        f"{tree.cpu_percent:.0f}%",
        age_text(tree.age),
        one_line(verdict_text(tree), 400),
    )


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def render_text(rows: list[PsTree], census: Census, width: Optional[int] = None) -> str:
    """The table: one line per tree (cut to ``width`` when given), then what it is based on."""
    lines = []
    for values in [COLUMNS, *(cells(t) for t in rows)]:
        fixed = [_fit(v, w).ljust(w) for v, w in zip(values, _WIDTHS)]
        fixed[1] = values[1].rjust(_WIDTHS[1])  # pids right-aligned, never cut
        line = " ".join(fixed) + " " + values[-1]
        lines.append(_fit(line.rstrip(), width) if width else line.rstrip())
    if not rows:
        lines.append("  (no Python process found)")
    hung = sum(1 for t in rows if t.hung)
    lines.append("")
    lines.append(f"{len(rows)} trees, {sum(len(t.pids) for t in rows)} processes; {hung} look hung (marked {HUNG_MARK}).")
    basis = with_basis(census)
    lines.append(basis[:1].upper() + basis[1:] + ".")
    for note in notes(census):
        lines.append(note)
    return "\n".join(lines) + "\n"


def notes(census: Census) -> list[str]:
    """What the list could not show, in words: hidden, unchecked and vanished processes."""
    notes = [one_line(note, 300) + "." for note in census.notes]
    if census.unchecked:
        notes.append(f"{_count(census.unchecked, 'process')} not checked for Python: executable and memory map not readable here.")
    if census.vanished:
        notes.append(f"{_count(census.vanished, 'process')} exited while the list was read.")
    return notes


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}es"


def to_data(rows: list[PsTree], census: Census) -> dict[str, Any]:
    def tree(t: PsTree) -> dict[str, Any]:
        return {
            "root_pid": t.root_pid,
            "program": one_line(t.program, 200),
            "python": t.python,
            "pids": list(t.pids),
            "roles": [{"role": r.role, "count": r.count} for r in t.roles],
            "state": t.state,
            "cpu_percent": t.cpu_percent,
            "age_seconds": round(t.age, 2),
            "hung": t.hung,
            "verdicts": [{"kind": v.kind, "text": one_line(v.text, 400), "hung": v.hung} for v in t.verdicts],
            "error": {"code": t.error, "message": one_line(t.error_message, 400)} if t.error else None,
        }

    return {
        "schema": PS_SCHEMA,
        "taken": census.taken,
        "host": one_line(census.host, 200),
        "cpus": census.cpus,
        "window_seconds": census.window,
        "basis": with_basis(census),
        "trees": [tree(t) for t in rows],
        "vanished": census.vanished,
        "unchecked": census.unchecked,
        "notes": [one_line(note, 300) for note in census.notes],
    }


def render_json(rows: list[PsTree], census: Census) -> str:
    return json.dumps(to_data(rows, census), indent=2, ensure_ascii=False) + "\n"
