"""Pure functions over the model: roles, waits, locks, diagnoses, diff, timeline.

``analyze`` = ``finish(prepare(raw))``: ``prepare`` (roles, waits) says what is worth
reading next (``analysis.plan``), ``finish`` runs the diagnosis rules once on the capture
with those facts (``pooltui.pipeline`` runs one refresh through them).
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis import aioloops, diagnoses, ends, filelocks, locks, managers, roles, waits
from pooltui.model import Snapshot


def analyze(snapshot: Snapshot, before: Optional[Snapshot] = None) -> Snapshot:
    """Roles, then waits, then lock holders, then diagnoses, on a raw capture (or a loaded
    report); ``before``: the last analysed sample of the same tree (workers keep their numbers)."""
    return finish(prepare(snapshot, before))


def prepare(snapshot: Snapshot, before: Optional[Snapshot] = None) -> Snapshot:
    """The first half of ``analyze``: roles and waits, which tell what is worth reading
    next (the locks threads sleep on, the pipes they block on). Neither looks at locks or
    pipes, so facts read after it are added to its result as they would be to the raw capture."""
    return waits.classify_snapshot(roles.assign_roles(snapshot, before))


def finish(prepared: Snapshot) -> Snapshot:
    """The second half of ``analyze``, on ``prepare``'s result with the lock and pipe facts
    read since: lock holders, then diagnoses."""
    return judge(resolve(prepared))


def judge(resolved: Snapshot) -> Snapshot:
    """The diagnosis rules on ``resolve``'s result: what a refresh runs once."""
    return resolved.with_(diagnoses=diagnoses.diagnose(resolved))


def resolve(prepared: Snapshot) -> Snapshot:
    """The facts half of ``finish``: who holds each lock (a Manager's too), which threads run
    an event loop, what is known of a pipe's or socket's other end outside the tree; no
    verdict; who holds a lock on a file a thread waits for. What the graph of waits is drawn
    from (``analysis.plan``)."""
    return filelocks.said(ends.outside(aioloops.mark(managers.resolve(locks.resolve_holders(prepared)))))
