"""Diagnosis identity as data: kinds, certainty, the severity rules written once, and
reports saved before these fields existed still load."""

from __future__ import annotations

import json

import pytest

from pooltui.model import SEVERITY, Certainty, Diagnosis, Kind, Severity, dumps, loads, severity_of
from tests.conftest import fixture_names, load_fixture

ERRORS = {
    "deadlock_cycle",
    "orphaned_lock",
    "dead_holder",
    "lost_task",
    "pool_hung",
    "crash_loop",
    "manager_gone",
    "stopped_holds_pool",
    "abandoned_lock",
    "no_waker",
}


def test_every_kind_has_one_severity_and_the_errors_are_the_cannot_finish_ones():
    assert set(SEVERITY) == set(Kind)
    assert {k.value for k, s in SEVERITY.items() if s is Severity.ERROR} == ERRORS


@pytest.mark.parametrize("kind", list(Kind))
def test_a_guess_is_one_step_lower(kind):
    base = SEVERITY[kind]
    assert severity_of(kind, Certainty.FACT) is base and severity_of(kind, Certainty.INFERRED) is base
    assert severity_of(kind, Certainty.GUESS).rank == max(base.rank - 1, 0)


def test_severity_follows_from_kind_and_certainty():
    assert Diagnosis(Kind.LOST_TASK, certainty=Certainty.GUESS).severity is Severity.WARNING
    assert Diagnosis(Kind.DEADLOCK, certainty=Certainty.FACT).severity is Severity.ERROR
    assert f"{Kind.DEADLOCK}" == str(Kind.DEADLOCK) == "deadlock_cycle" == Kind.DEADLOCK


@pytest.mark.parametrize("name", fixture_names("manager_gone-")[:1] + fixture_names("abba-")[:1])
def test_a_report_saved_without_certainty_or_subject_still_loads(name):
    from pooltui.analysis import analyze

    data = json.loads(dumps(analyze(load_fixture(name)[0])))
    assert data["snapshot"]["diagnoses"]
    for d in data["snapshot"]["diagnoses"]:
        for key in ("certainty", "subject", "over_time"):
            del d[key]
        d["severity"] = "warning"  # a saved severity is kept as it was said
    loaded = loads(json.dumps(data)).snapshot
    assert all(d.severity is Severity.WARNING and d.certainty is Certainty.INFERRED and isinstance(d.kind, Kind) for d in loaded.diagnoses)
