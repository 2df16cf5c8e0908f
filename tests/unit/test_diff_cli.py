"""`pooltui diff A.json B.json` over recorded reports, and property tests: the loader and
the diff never crash on arbitrary JSON (a ReportError, or a diff), diff(a, a) is empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pooltui.analysis import analyze
from pooltui.analysis.diff import diff_snapshots
from pooltui.cli import main
from pooltui.model import ReportError, from_dict, loads, to_dict
from pooltui.report.diff import render_diff, to_data
from tests.conftest import FIXTURES, examples

BEFORE, AFTER = FIXTURES / "tui-pool-py311-later.json", FIXTURES / "tui-pool-killed-py311.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code), out, err


def test_diff_text_names_the_replaced_worker_and_the_moved_threads(capsys):
    code, out, err = run(capsys, "diff", str(BEFORE), str(AFTER))
    assert code == 0 and not err
    assert "exited   pool worker #1 (pid 8660) → replaced by pool worker #3 (pid 9238)" in out
    assert "new      pool worker #3 (pid 9238) (replacement)" in out
    assert "pool parent (pid 8654): 4 same" in out
    assert "exit status unknown" in out  # reaped before it was seen dead: not knowable


def test_diff_json_and_md(capsys):
    code, out, _ = run(capsys, "diff", str(BEFORE), str(AFTER), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "pooltui.diff/1" and data["changed"]
    assert data["replaced"] == [{"old": 8660, "new": 9238}]
    assert [p["pid"] for p in data["removed"]] == [8660]
    assert {e["kind"] for e in data["events"]} == {"process_exited", "worker_replaced"}
    code, out, _ = run(capsys, "diff", str(BEFORE), str(AFTER), "--format", "md")
    assert out.startswith("# pooltui diff") and "## processes" in out and "## threads" in out


def test_diff_of_raw_fixtures_analyses_them_and_lists_new_verdicts(capsys, tmp_path):
    code, out, _ = run(capsys, "diff", str(FIXTURES / "healthy-py3.12.json"), str(FIXTURES / "killed_worker-py3.12.json"))
    assert code == 0 and "new diagnoses" in out and "lost_task" in out


def test_diff_of_a_report_with_itself_says_no_change(capsys):
    code, out, _ = run(capsys, "diff", str(BEFORE), str(BEFORE))
    assert code == 0 and "no change" in out


@pytest.mark.parametrize(
    "content",
    ["", "{", "[]", '{"schema": "pooltui.report/9"}', '{"schema": "pooltui.report/1", "snapshot": 3}', "\x00\xff"],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("latin-1"))
    code, out, err = run(capsys, "diff", str(bad), str(AFTER))
    assert code == 2 and not out and err.count("\n") == 1 and err.startswith("pooltui: ")
    code, _, err = run(capsys, "diff", str(AFTER), str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err


# -- properties ----------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(["processes", "threads", "frames", "diagnoses", "events", "created", "root_pid", "pid", "tid", "status"])


def _mutations(base: dict):  # type: ignore[no-untyped-def]
    """A real report with one value somewhere replaced by arbitrary JSON."""

    def put(data, path, value):  # type: ignore[no-untyped-def]
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return data

    paths = []

    def walk(node, path):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*path, k))
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:3]):
                paths.append((*path, i))
                walk(v, (*path, i))

    walk(base, ())
    return st.tuples(st.sampled_from(paths), JSON).map(lambda pv: put(json.loads(json.dumps(base)), pv[0], pv[1]))


BASE = json.loads(Path(AFTER).read_text())


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, _mutations(BASE), st.dictionaries(FIELDS, JSON).map(lambda d: {"schema": "pooltui.report/1", **d})))
def test_loader_and_diff_never_crash_on_arbitrary_json(data):
    try:
        report = from_dict(data)
    except ReportError as exc:
        assert "\n" not in str(exc)
        return
    try:
        loads(json.dumps(data))
    except (ReportError, ValueError):
        pass
    other = from_dict(BASE).snapshot
    for a, b in ((report.snapshot, other), (other, report.snapshot)):
        diff = diff_snapshots(a, b)
        render_diff(diff, "text")
        render_diff(diff, "md")
        json.dumps(to_data(diff))


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(BASE))
def test_a_report_diffed_with_itself_is_empty(data):
    try:
        snapshot = from_dict(data).snapshot
    except ReportError:
        return
    diff = diff_snapshots(snapshot, snapshot)
    assert not diff.changed and not diff.added and not diff.removed and not diff.new_diagnoses
    assert "no change" in render_diff(diff)
    assert not to_data(diff)["events"]
    analysed = analyze(snapshot)
    assert not diff_snapshots(analysed, analysed).changed


def test_report_with_a_timeline_round_trips():
    from pooltui.analysis.timeline import replay

    snapshot = analyze(from_dict(BASE).snapshot)
    tl = replay([snapshot, snapshot.with_(created=snapshot.created + 2)])
    again = from_dict(json.loads(json.dumps(to_dict(tl.snapshots[-1], tl))))
    assert again.timeline == tl and again.snapshot == tl.snapshots[-1]
