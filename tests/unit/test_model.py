"""The report format: round trip, validation errors, and a loader that never crashes."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pooltui.model import SCHEMA, ReportError, dumps, loads, replace, to_dict
from pooltui.report import OutputError, load_report, save_report
from tests.conftest import examples, fixture_names, load_fixture

NAMES = fixture_names()


@pytest.mark.parametrize("name", NAMES or [pytest.param("none", marks=pytest.mark.skip(reason="no fixtures recorded"))])
def test_round_trip_of_recorded_reports(name, tmp_path):
    snapshot, _ = load_fixture(name)
    path = save_report(tmp_path / "r.json", snapshot)
    assert load_report(path).snapshot == snapshot
    assert loads(dumps(snapshot)).snapshot == snapshot


@pytest.mark.parametrize("name", NAMES or [pytest.param("none", marks=pytest.mark.skip(reason="no fixtures recorded"))])
def test_written_json_is_byte_for_byte_the_standard_librarys(name):
    """The fast writer changes no byte of the file: the schema and layout stay what
    ``json.dumps(indent=1, ensure_ascii=False)`` of the plain form gives."""
    snapshot, _ = load_fixture(name)
    assert dumps(snapshot) == json.dumps(to_dict(snapshot), indent=1, ensure_ascii=False) + "\n"


def test_values_the_fast_writer_refuses_are_still_written():
    snapshot, _ = load_fixture(NAMES[0]) if NAMES else pytest.skip("no fixtures recorded")
    proc = snapshot.processes[0]
    odd = snapshot.with_(processes=(replace(proc, cpu_time=None, num_threads=2**70),))
    assert json.loads(dumps(odd))["snapshot"]["processes"][0]["num_threads"] == 2**70


def test_saved_report_is_private_and_atomic(tmp_path):
    snapshot, _ = load_fixture(NAMES[0]) if NAMES else pytest.skip("no fixtures recorded")
    target = tmp_path / "r.json"
    target.write_text("old")
    save_report(target, snapshot)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"], "temp file left behind"


def test_failed_write_keeps_the_old_report(tmp_path):
    snapshot, _ = load_fixture(NAMES[0]) if NAMES else pytest.skip("no fixtures recorded")
    target = tmp_path / "r.json"
    target.write_text("the old report")
    with pytest.raises(OutputError, match="directory"):
        save_report(tmp_path, snapshot)
    with pytest.raises(OutputError, match="does not exist"):
        save_report(tmp_path / "missing" / "r.json", snapshot)
    assert target.read_text() == "the old report"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ('{"schema": "pooltui.report/1", "snapshot": {"created": 1', "not JSON"),
        ("not json at all", "not JSON"),
        ("[1, 2]", "top level is list"),
        ('{"hello": "world"}', "schema is None"),
        ('{"schema": "pooltui.report/3", "snapshot": {}}', "not supported"),  # a version after this one's
        ('{"schema": "pooltui.report/1", "snapshot": {"created": "yesterday"}}', "invalid report: snapshot.created"),
        ('{"schema": "pooltui.report/1"}', "invalid report: snapshot"),
        ("[" * 100000, "JSON"),
    ],
)
def test_loader_rejects_bad_files_in_one_line(text, message, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ReportError) as info:
        load_report(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_loader_refuses_huge_and_binary_files(tmp_path):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(101 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(ReportError, match="at most 100 MB"):
        load_report(huge)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ReportError, match="not a text file"):
        load_report(binary)
    with pytest.raises(ReportError, match="no such file"):
        load_report(tmp_path / "absent.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=examples(300), deadline=None)
@given(json_values)
def test_loader_never_crashes_on_arbitrary_json(value):
    try:
        loads(json.dumps(value))
    except ReportError:
        pass


@settings(max_examples=examples(200), deadline=None)
@given(st.dictionaries(st.sampled_from(["created", "host", "root_pid", "processes", "locks", "tools"]), json_values))
def test_loader_never_crashes_on_report_shaped_json(snapshot):
    try:
        loads(json.dumps({"schema": SCHEMA, "snapshot": snapshot}))
    except ReportError:
        pass


def test_to_dict_is_plain_json():
    snapshot, _ = load_fixture(NAMES[0]) if NAMES else pytest.skip("no fixtures recorded")
    data = to_dict(snapshot)
    assert data["schema"] == SCHEMA
    json.dumps(data)  # no objects left


def test_replace_keeps_what_a_record_normalizes():
    """A record's ``__post_init__`` (a plain str kind made its enum) holds after ``replace``
    whatever msgspec runs it (0.21+) or not (older: ``model.record`` runs it)."""
    from pooltui.model import Diagnosis, Event, EventKind, Kind

    d = replace(Diagnosis(Kind.DEADLOCK), kind="lost_task", severity=None)  # type: ignore[arg-type]
    assert d.kind is Kind.LOST_TASK and d.severity is not None
    e = replace(Event(0.0, EventKind.PROCESS_NEW, 1), kind="process_exited")  # type: ignore[arg-type]
    assert e.kind is EventKind.PROCESS_EXITED
