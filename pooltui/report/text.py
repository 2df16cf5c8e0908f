"""Text helpers shared by every renderer (Markdown, HTML, terminal, TUI).

Captured strings (thread names, file names, cmdlines, locals) come from the target
and may hold terminal escape sequences or control characters: ``clean`` neutralises
them before anything is shown or saved as text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Callable, Optional

from pooltui.analysis.waits import process_state
from pooltui.model import Diagnosis, Process, Thread, escape_surrogates

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# invisible characters that reorder, hide or break text: every format character (Cf:
# bidi marks and overrides, zero-width, soft hyphen, U+061C...), line and paragraph
# separators (U+2028/2029), lone surrogates (undecodable bytes), and the other default-
# ignorable code points (U+034F, Hangul fillers, variation selectors, tags): a file or
# thread name could otherwise read differently from what it is, or start a line of its
# own. tests/unit/test_text_escaping.py checks the list against unicodedata.
_FORMAT = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001345f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_BREAKS = re.compile(r"[\t\n]")


def clean(text: Optional[str], limit: int = 0) -> str:
    """Printable form of a captured string: control chars and bytes that were not UTF-8
    shown as \\xNN, optional length cap."""
    if not text:
        return ""
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", escape_surrogates(text))
    out = _FORMAT.sub(_escape_format, out)
    if limit and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def _escape_format(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def one_line(text: Optional[str], limit: int = 0) -> str:
    """``clean`` for a field shown on one line (a name, a path, a repr): tab and newline
    become ``\\t`` and ``\\n`` too, so a captured string cannot start a line of its own
    (a Markdown heading, a fence) in a report."""
    if not text:
        return ""
    return clean(_BREAKS.sub(lambda m: "\\t" if m.group() == "\t" else "\\n", text), limit)


def human_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit in ("B", "K") else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}T"


def percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}%"


def cmdline(parts: tuple[str, ...], limit: int = 80) -> str:
    return one_line(" ".join(parts), limit)


def tree_rows(processes: Sequence[Process], root_pid: int) -> list[tuple[str, Process]]:
    """(prefix, process) in tree order with box-drawing prefixes; orphans of the walk at the end."""
    return [(prefix, group[0]) for prefix, group in _walk(processes, root_pid, lambda kids: [(k,) for k in kids])]


def tree_groups(
    processes: Sequence[Process], root_pid: int, diagnoses: Sequence[Diagnosis] = (), alone: Collection[tuple[int, float]] = ()
) -> list[tuple[str, tuple[Process, ...]]]:
    """``tree_rows`` with sibling leaves joined by ``group_processes`` (63 workers blocked on
    one line: one row of 63): (prefix, processes) in tree order, a group where its first
    member was. A process with children of its own stays one row (its subtree hangs under it)."""

    def siblings(kids: list[Process]) -> list[tuple[Process, ...]]:
        leaves = [k for k in kids if not parents.get(k.pid)]
        groups = {g[0].pid: g for g in group_processes(leaves, diagnoses, alone)}
        grouped = {p.pid for g in groups.values() for p in g[1:]}
        return [groups.get(k.pid, (k,)) for k in kids if k.pid not in grouped]

    parents = {p.ppid: True for p in processes if p.ppid != p.pid}
    return _walk(processes, root_pid, siblings)


def _walk(
    processes: Sequence[Process], root_pid: int, siblings: Callable[[list[Process]], list[tuple[Process, ...]]]
) -> list[tuple[str, tuple[Process, ...]]]:
    """(prefix, group) in tree order; ``siblings`` turns a parent's children (oldest first)
    into the groups shown, each one row (the first member's children hang under it)."""
    by_parent: dict[int, list[Process]] = {}
    pids = {p.pid for p in processes}
    for p in processes:
        by_parent.setdefault(p.ppid, []).append(p)
    for kids in by_parent.values():
        kids.sort(key=lambda q: (q.create_time, q.pid))
    rows: list[tuple[str, tuple[Process, ...]]] = []
    seen: set[int] = set()

    def walk(group: tuple[Process, ...], prefix: str, last: bool, top: bool) -> None:
        seen.update(p.pid for p in group)
        proc = group[0]
        rows.append(("" if top else prefix + ("└─ " if last else "├─ "), group))
        kids = siblings([k for k in by_parent.get(proc.pid, []) if k.pid not in seen and k.pid != proc.pid])
        for i, kid in enumerate(kids):
            walk(kid, "" if top else prefix + ("   " if last else "│  "), i == len(kids) - 1, False)

    roots = [p for p in processes if p.pid == root_pid] + [p for p in processes if p.ppid not in pids and p.pid != root_pid]
    for r in roots:
        if r.pid not in seen:
            walk((r,), "", True, True)
    for p in processes:  # cycles or odd parents: never drop a process
        if p.pid not in seen:
            rows.append(("? ", (p,)))
    return rows


def stack_key(thread: Thread) -> tuple[object, ...]:
    """What makes two threads "the same" to a reader: role, Python frames (function, file,
    line; native frames aside) and the wait line. Names and tids may differ."""
    wait = thread.wait
    frames = tuple((f.function, f.file, f.line) for f in thread.frames if not f.native)
    return (thread.role, thread.ghost, frames, wait.kind.value if wait else None, wait.summary if wait else "", wait.unsaid_holder if wait else "")


def group_threads(threads: Sequence[Thread]) -> list[tuple[Thread, ...]]:
    """Threads with the same stack and wait, together, in the order each first appears."""
    groups: dict[tuple[object, ...], list[Thread]] = {}
    for t in threads:
        groups.setdefault(stack_key(t), []).append(t)
    return [tuple(g) for g in groups.values()]


def process_key(proc: Process, diagnoses: Sequence[Diagnosis] = ()) -> tuple[object, ...]:
    """What makes two processes "the same" to a reader: role, Python version, state badge,
    every thread's ``stack_key`` and the verdicts that name them (a verdict's subject is
    never hidden among processes the verdict does not name)."""
    named = tuple(i for i, d in enumerate(diagnoses) if proc.pid in d.pids)
    return (proc.role, proc.python, process_state(proc), tuple(stack_key(t) for t in proc.threads), named)


def group_processes(
    procs: Sequence[Process], diagnoses: Sequence[Diagnosis] = (), alone: Collection[tuple[int, float]] = ()
) -> list[tuple[Process, ...]]:
    """Processes with the same ``process_key`` (63 pool workers blocked on one line),
    together, in the order each first appears. A process that could not be read, has no
    threads, or whose key (pid, create_time) is in ``alone``, stays on its own."""
    groups: dict[object, list[Process]] = {}
    for p in procs:
        single = not p.threads or p.error is not None or p.key in alone
        groups.setdefault(("alone", p.key) if single else process_key(p, diagnoses), []).append(p)
    return [tuple(g) for g in groups.values()]


def pid_list(procs: Sequence[Process], limit: int = 12) -> str:
    pids = [str(p.pid) for p in procs]
    return ", ".join(pids[:limit]) + (f", … ({len(pids) - limit} more)" if len(pids) > limit else "")
