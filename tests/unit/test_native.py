"""`--native` / `n`: C frames are shown as native, never as the user's code (no ▶), and
never change a wait line or a verdict. Captures recorded with and without --native from
the same demo scenarios (scripts/record_fixtures.py, NATIVE)."""

from __future__ import annotations

import re

import pytest

from pooltui.analysis import analyze
from pooltui.analysis.diff import same_stack
from pooltui.analysis.frames import origin
from pooltui.capture.pyspyjson import parse_dump
from pooltui.model import replace
from pooltui.report import load_report
from pooltui.report.markdown import stack_lines
from tests.conftest import FIXTURES

PAIRS = sorted(p.name.replace("-native", "")[: -len(".json")] for p in FIXTURES.glob("*-native-py*.json"))


def loaded(name):  # type: ignore[no-untyped-def]
    return analyze(load_report(FIXTURES / f"{name}.json").snapshot)


def plain(text: str) -> str:
    """A wait line without what differs between two runs of a demo (pids, addresses)."""
    return re.sub(r"0x[0-9a-f]+|\d+", "N", text)


@pytest.mark.parametrize("name", PAIRS or [pytest.param("none", marks=pytest.mark.skip(reason="no --native capture recorded"))])
def test_native_frames_change_no_wait_line_and_no_verdict(name):
    before, native = loaded(name), loaded(name.replace("-py", "-native-py"))
    assert any(f.native for p in native.processes for t in p.threads for f in t.frames), "the capture has C frames"
    assert sorted(d.kind for d in native.diagnoses) == sorted(d.kind for d in before.diagnoses)
    waits = {(p.role_label, t.label): plain(t.wait.summary) for p in before.processes for t in p.threads if t.wait}
    for p in native.processes:
        for t in p.threads:
            if (p.role_label, t.label) in waits and t.wait is not None:
                assert plain(t.wait.summary) == waits[(p.role_label, t.label)], (p.role_label, t.label)
            for f in t.frames:
                if f.native:
                    assert origin(f) == "native"
            # turning native frames on does not move a thread (stuck stays stuck)
            assert same_stack(t, replace(t, frames=tuple(f for f in t.frames if not f.native)))
    md = "\n".join(line for p in native.processes for t in p.threads for line in stack_lines(t))
    assert "PyThread_acquire_lock_timed" in md and not any("▶" in line and "native" in line for line in md.splitlines())


def test_a_libpython_frame_under_a_pyenv_path_is_native():
    """py-spy 0.4 names the shared object in ``module``; '.py' in '/root/.pyenv/' is no sign of Python source."""
    import json

    raw = [
        {
            "thread_id": 1,
            "os_thread_id": 2,
            "thread_name": "w",
            "active": False,
            "owns_gil": False,
            "frames": [
                {
                    "name": "PyThread_acquire_lock_timed",
                    "filename": "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0",
                    "short_filename": "libpython3.12.so.1.0",
                    "module": "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0",
                    "line": 0,
                },
                {"name": "w", "filename": "/srv/app/.pyenv-ish/job.py", "short_filename": "job.py", "module": None, "line": 8},
            ],
        }
    ]
    [thread] = parse_dump(json.dumps(raw), 1)
    assert [f.native for f in thread.frames] == [True, False]
