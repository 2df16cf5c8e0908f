"""The analysis (roles, waits, lock holders, verdicts) over captures recorded from the
live demo scenarios on every interpreter (scripts/record_fixtures.py): the same
expectations as the live tests, without a live process."""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze
from tests.conftest import fixture_names, load_fixture
from tests.expectations import CHECKS, FRAMEWORK_CHECKS

# framework scenarios (gunicorn, celery) are recorded where a demo virtualenv has the framework
ALL_CHECKS = {**CHECKS, **FRAMEWORK_CHECKS}
NAMES = [n for n in fixture_names() if n.rsplit("-py", 1)[0] in ALL_CHECKS]


@pytest.mark.parametrize("name", NAMES or [pytest.param("none", marks=pytest.mark.skip(reason="no fixtures recorded"))])
def test_recorded_scenario(name):
    raw, truth = load_fixture(name)
    scenario, version = name.rsplit("-py", 1)
    ALL_CHECKS[scenario](analyze(raw), truth["truth"], version)


def test_every_scenario_has_fixtures():
    recorded = {n.rsplit("-py", 1)[0] for n in NAMES}
    assert set(CHECKS) <= recorded, f"not recorded: {set(CHECKS) - recorded} (run make fixtures)"


def test_analysis_is_idempotent():
    """Opening a saved (already analysed) report analyses it to the same result."""
    for name in NAMES[:: max(1, len(NAMES) // 12)]:
        raw, _ = load_fixture(name)
        once = analyze(raw)
        assert analyze(once) == once, name
