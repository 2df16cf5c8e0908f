"""Hypothesis drives report loading with hostile bytes and hostile JSON (issue 14).

A report file is input from anywhere (a ticket attachment, a colleague's laptop): loading
it either gives a Report or raises the one typed ``ReportError`` — never another exception —
in bounded time, and a report that loads can be shown: rendered to Markdown, HTML and JSON,
replayed (``RecordedSource`` analyses a raw capture) and diffed, without a crash.
"""

from __future__ import annotations

import copy
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pooltui.analysis.diff import diff_snapshots
from pooltui.model import Report, ReportError, loads
from pooltui.report import load_report, render
from pooltui.report.diff import render_diff
from pooltui.sources import RecordedSource
from tests.conftest import examples

FIXTURES = Path(__file__).parent.parent / "fixtures"
ANALYSED = json.loads((FIXTURES / "tui-pool-py311.json").read_text())  # saved by the TUI: roles and verdicts
RAW = json.loads((FIXTURES / "plain_lock-py3.12.json").read_text())  # a raw capture: replay analyses it
FUZZ = settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x1b[2J", "\n\n", "\u202e", "\udcff", "a" * 10000, "-1", "NaN", "pooltui.report/1", "error", "lock"]),
)
hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e18, 5e-324, -0.0]),
    hostile_text,
)
hostile_value = st.recursive(
    hostile_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=12
)
changes = st.lists(st.tuples(st.integers(0, 10**6), hostile_value, st.sampled_from(["set", "set", "delete", "copy"])), min_size=1, max_size=4)


def _paths(value: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON tree (dict keys and list indexes)."""
    found = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):  # the first few of each list: enough shapes, bounded
            found += _paths(v, (*here, i))
    return found


PATHS = {id(ANALYSED): _paths(ANALYSED), id(RAW): _paths(RAW)}


def _mutated(base: dict, choices: list[tuple[int, Any, str]]) -> dict:
    data = copy.deepcopy(base)
    paths = PATHS[id(base)]
    for index, value, how in choices:
        path = paths[index % len(paths)]
        if not path:
            continue
        parent = data
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            try:
                if how == "delete" and isinstance(parent, (dict, list)):
                    del parent[last]
                elif how == "copy" and isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                    parent.append(copy.deepcopy(parent[last]))  # duplicates: the same pid or tid twice
                else:
                    parent[last] = value
            except (KeyError, IndexError, TypeError):
                pass
    return data


def _show(report: Report) -> None:
    """What `pooltui open` / `diff` / `snapshot` do with a loaded report, minus the screen."""
    source = RecordedSource(report.snapshot, report.timeline, path="fuzz.json")
    snapshot = source.snapshot
    for fmt in ("md", "html", "json"):
        render(snapshot, fmt, report.timeline).encode("utf-8", "backslashreplace")
    render_diff(diff_snapshots(snapshot, snapshot), "text")


def _load(text: str) -> Report | None:
    try:
        return loads(text)
    except ReportError as exc:
        assert "\n" not in str(exc)  # one line
        return None


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes_load_or_fail_with_report_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "r.json"
    path.write_bytes(data)
    try:
        report = load_report(path)
    except ReportError:
        return
    _show(report)


@FUZZ
@given(st.sampled_from(["analysed", "raw"]), changes)
def test_hostile_json_in_a_real_report_loads_or_fails_cleanly(kind, choices):
    base = ANALYSED if kind == "analysed" else RAW
    report = _load(json.dumps(_mutated(base, choices)))
    if report is not None:
        _show(report)


@FUZZ
@given(st.integers(0, 10**6), st.binary(min_size=0, max_size=64), st.integers(0, 64))
def test_a_damaged_report_file_loads_or_fails_cleanly(where, insert, cut):
    text = (FIXTURES / "tui-pool-py311.json").read_bytes()
    at = where % len(text)
    damaged = text[:at] + insert + text[at + cut :]
    try:
        report = loads(damaged.decode("utf-8", "surrogateescape"))
    except ReportError:
        return
    _show(report)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000 + "]" * 200_000,  # nesting: the parser's recursion limit
        '{"schema": "pooltui.report/1", "snapshot": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"schema": "pooltui.report/1", "snapshot": {"created": 1, "host": "h", "root_pid": 1, "processes": [' + ",".join(["{}"] * 200_000) + "]}}",
        '{"schema": "pooltui.report/1", "x": "' + "\\u0000" * 500_000 + '"}',
        "9" * 100_000,  # an integer past Python's digit limit
    ],
    ids=["deep-list", "deep-snapshot", "many-processes", "long-string", "huge-int"],
)
def test_hostile_shapes_fail_fast_and_small(text):
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(ReportError):
            loads(text)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.process_time() - started < 20  # CPU seconds: generous for a busy machine, far from "forever"
    assert peak < 40 * len(text) + 50 * 2**20  # proportional to the input, never a blow-up
