"""What a live test's captures read, said when the test fails: a verdict that is missing
("no verdict at all") is explained by what each thread was read as -- py-spy's idle flag,
the kernel's system call, the futex, the innermost frame -- and by the capture's locks and
notes, not by a rerun that passes. ``tests/conftest.py`` adds the summary to the report of
a failed test; the helpers that capture (``conftest.capture``, the CLI helpers of the live
verdict tests) remember what they read."""

from __future__ import annotations

import json
from typing import Any

_SEEN: list[dict[str, Any]] = []
_KEPT = 6  # captures summarised per test, the last ones


def remember(doc: dict[str, Any]) -> None:
    """A capture as ``pooltui snapshot --format json`` prints it (or its "snapshot")."""
    _SEEN.append(doc.get("snapshot", doc))
    del _SEEN[:-_KEPT]


def remember_snapshot(snapshot: Any) -> None:
    from pooltui.report import render

    remember(json.loads(render(snapshot, "json")))


def clear() -> None:
    _SEEN.clear()


def summary() -> str:
    return "\n\n".join(_one(s) for s in _SEEN)


def _one(s: dict[str, Any]) -> str:
    lines = [f"capture of {s.get('root_pid')}: diagnoses {[(d.get('kind'), d.get('certainty')) for d in s.get('diagnoses', [])]}"]
    lines += [f"  note: {n}" for n in s.get("notes", [])]
    for lock in s.get("locks", []):
        lines.append(
            f"  lock {lock.get('name')}: locked={lock.get('locked')} holders={lock.get('holders')} waiters={lock.get('waiters')}"
            f" with_exits={lock.get('with_exits')} with_frames={lock.get('with_frames')} could_hold={len(lock.get('could_hold') or ())}"
        )
    for p in s.get("processes", []):
        lines.append(f"  pid {p.get('pid')} {p.get('role')} {p.get('status')} error={p.get('error')}")
        for t in p.get("threads", []):
            frame: dict[str, Any] = next((f for f in t.get("frames", []) if not f.get("native")), {})
            wait = t.get("wait") or {}
            lines.append(
                f"    {t.get('tid')} {t.get('name')} active={t.get('active')} syscall={t.get('syscall')} futex={t.get('futex')}"
                f" fd={t.get('fd')} polls={t.get('polls')} timed={t.get('timed')} ran={t.get('ran')} wait={wait.get('kind')}"
                f" at {frame.get('function')} {frame.get('short_file')}:{frame.get('line')} {frame.get('code')!r}"
            )
    return "\n".join(lines)
