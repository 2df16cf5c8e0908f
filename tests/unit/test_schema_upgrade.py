"""A report saved by the previous schema (pooltui.report/1, recorded by that pooltui with
scripts/record_old_reports.py) loads as the same snapshot: every field as that pooltui read
it, the facts only its wait summaries said given as the fields report/2 keeps them in, and
its Markdown byte for byte what that pooltui rendered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pooltui.model import SCHEMA, dumps, loads
from pooltui.model.upgrade import SCHEMA_1
from pooltui.report import render

pytestmark = pytest.mark.unit

OLD = Path(__file__).resolve().parent.parent / "fixtures" / "schema1"
NAMES = sorted(p.stem for p in OLD.glob("*.json"))


def _waits(report_json: dict) -> list[dict]:
    snapshots = [report_json["snapshot"], *(report_json.get("timeline") or {}).get("snapshots", [])]
    return [t["wait"] for s in snapshots for p in s["processes"] for t in p["threads"] if t["wait"]]


def _without_unknown(saved: object, old: object) -> None:
    """``saved`` without the optional facts added within report/2 (a process's runq_time, a
    thread's shared_by...), each of which must be null: an old file did not know them."""
    if isinstance(saved, dict) and isinstance(old, dict):
        for key in [k for k in saved if k not in old]:
            assert saved.pop(key) is None, key
        for key in saved:
            _without_unknown(saved[key], old[key])
    elif isinstance(saved, list) and isinstance(old, list):
        for a, b in zip(saved, old):
            _without_unknown(a, b)


def test_the_fixtures_are_of_the_old_schema() -> None:
    assert NAMES == ["abba", "asyncio_blocked", "outside_peer"]
    assert SCHEMA != SCHEMA_1
    for name in NAMES:
        assert json.loads((OLD / f"{name}.json").read_text())["schema"] == SCHEMA_1


@pytest.mark.parametrize("name", NAMES)
def test_an_old_report_loads_as_the_same_snapshot(name: str) -> None:
    old_text = (OLD / f"{name}.json").read_text()
    report = loads(old_text)
    assert report.schema == SCHEMA
    saved = json.loads(dumps(report.snapshot, report.timeline))
    assert saved["schema"] == SCHEMA
    for wait in _waits(saved):  # what report/2 added, taken out again: the old file, field for field
        del wait["coroutine"], wait["far"]
    _without_unknown(saved, json.loads(old_text))
    saved["schema"] = SCHEMA_1
    assert json.dumps(saved, indent=1, ensure_ascii=False) + "\n" == old_text


@pytest.mark.parametrize("name", NAMES)
def test_an_old_report_renders_as_the_old_pooltui_rendered_it(name: str) -> None:
    report = loads((OLD / f"{name}.json").read_text())
    assert render(report.snapshot, "md", report.timeline) == (OLD / f"{name}.md").read_text()


def test_the_facts_an_old_summary_said_become_fields() -> None:
    loop = _waits(json.loads(dumps(loads((OLD / "asyncio_blocked.json").read_text()).snapshot)))
    assert [w["coroutine"] for w in loop if w["coroutine"]] == ["handle_request"]
    assert all(w["summary"].startswith("the event loop is blocked") == (w["coroutine"] is not None) for w in loop)
    assert not any(w["far"] for w in loop)

    peer = _waits(json.loads(dumps(loads((OLD / "outside_peer.json").read_text()).snapshot)))
    far = [w for w in peer if w["far"]]
    assert len(far) == 1
    assert re.fullmatch(r"127\.0\.0\.1:\d+ \(fd \d+\), a process on this host outside this tree", far[0]["far"])
    assert far[0]["summary"].endswith(f"; waits to read from {far[0]['far']}")
    assert not any(w["coroutine"] for w in peer)


def test_a_report_of_another_version_is_refused_with_both_named() -> None:
    with pytest.raises(ValueError, match=r"'pooltui.report/9' is not supported by this pooltui \(reads pooltui.report/2 and pooltui.report/1\)"):
        loads('{"schema": "pooltui.report/9"}')


def test_the_far_end_is_the_one_report_1_appended_last() -> None:
    """The phrase can stand earlier too, in the target's own source line the summary quotes."""
    data = json.loads((OLD / "outside_peer.json").read_text())
    wait = next(w for w in _waits(data) if "; waits to " in w["summary"])
    wait["summary"] = 'waits on I/O in `s = "; waits to read from me"` in f; waits to read from 10.0.0.1:80 (fd 4), outside this box'
    loaded = json.loads(dumps(loads(json.dumps(data)).snapshot))
    assert [w["far"] for w in _waits(loaded) if w["far"]] == ["10.0.0.1:80 (fd 4), outside this box"]
