"""Reading a report an older pooltui saved: its JSON brought to the current schema before
it is validated, so the rest of pooltui sees one shape.

``pooltui.report/1`` -> ``/2``: 2 keeps, as fields of a ``Wait``, two facts 1 said only in
the wait's summary: the coroutine an asyncio loop is blocked in (``coroutine``) and the
other end, outside the tree, of the pipe or socket a thread waits on (``far``). They are
read back from the summary as 1 wrote it (the phrases below are 1's, frozen: the
analysis may word them differently later). Nothing else changed."""

from __future__ import annotations

import re
from typing import Any

SCHEMA_1 = "pooltui.report/1"
# pooltui.report/1's wording (analysis.waits.LOOP_BLOCKED, analysis.ends.outside)
_LOOP_BLOCKED = re.compile(r"the event loop is blocked \(in coroutine (.*?)\): ", re.DOTALL)
_FAR = re.compile(r".*; waits to (?:read from|write to) (.*)\Z", re.DOTALL)  # the last: 1 appended it at the end


def _wait_from_1(wait: dict[str, Any]) -> None:
    summary = wait.get("summary")
    if not isinstance(summary, str):
        return  # left for the validation to name
    loop = _LOOP_BLOCKED.match(summary)
    wait.setdefault("coroutine", loop.group(1) if loop else None)
    far = _FAR.match(summary)
    wait.setdefault("far", far.group(1) if far else None)


def _snapshot_from_1(snapshot: Any) -> None:
    processes = snapshot.get("processes") if isinstance(snapshot, dict) else None
    for p in processes if isinstance(processes, list) else ():
        threads = p.get("threads") if isinstance(p, dict) else None
        for t in threads if isinstance(threads, list) else ():
            wait = t.get("wait") if isinstance(t, dict) else None
            if isinstance(wait, dict):
                _wait_from_1(wait)


def from_1(data: dict[str, Any], schema: str) -> dict[str, Any]:
    """A ``pooltui.report/1`` report (decoded JSON) as ``schema`` holds it (its waits get
    their new fields in place); anything malformed is left as it is, for the validation
    that follows to name."""
    _snapshot_from_1(data.get("snapshot"))
    timeline = data.get("timeline")
    samples = timeline.get("snapshots") if isinstance(timeline, dict) else None
    for snapshot in samples if isinstance(samples, list) else ():
        _snapshot_from_1(snapshot)
    return {**data, "schema": schema}
