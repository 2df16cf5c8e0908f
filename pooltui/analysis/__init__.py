"""Pure functions over the model: roles, waits, locks, diagnoses, diff, timeline.

``analyze`` is the one entry point the sources call on every raw capture.
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis import aioloops, diagnoses, locks, managers, roles, waits
from pooltui.model import Snapshot


def analyze(snapshot: Snapshot, before: Optional[Snapshot] = None) -> Snapshot:
    """Roles, then waits, then lock holders, then diagnoses, on a raw capture (or a loaded
    report); ``before``: the last analysed sample of the same tree (workers keep their numbers)."""
    snapshot = roles.assign_roles(snapshot, before)
    snapshot = waits.classify_snapshot(snapshot)
    snapshot = aioloops.mark(managers.resolve(locks.resolve_holders(snapshot)))
    return snapshot.with_(diagnoses=diagnoses.diagnose(snapshot))
