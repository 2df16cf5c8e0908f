"""docs/speed.md's tables are what bench/latest.json renders (scripts/bench_tables.py), never
hand-copied numbers: a run of `make bench` that is not followed by `make bench-docs`, or a
table edited by hand, fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_tables.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_the_speed_page_is_what_the_bench_json_renders():
    result = _run("--check")
    assert result.returncode == 0, result.stderr


def test_a_changed_measurement_changes_the_page_and_keeps_its_prose(tmp_path):
    results = json.loads((ROOT / "bench" / "latest.json").read_text())
    results["one"]["snapshot"] = 9.87654  # a number no real run gives
    fake = tmp_path / "latest.json"
    fake.write_text(json.dumps(results))
    doc = tmp_path / "speed.md"
    original = (ROOT / "docs" / "speed.md").read_text()
    doc.write_text(original)

    assert _run("--json", str(fake), "--doc", str(doc), "--check").returncode == 1
    assert _run("--json", str(fake), "--doc", str(doc)).returncode == 0
    rewritten = doc.read_text()
    assert "`pooltui snapshot PID -o r.json` 9,877 ms" in rewritten
    # only the marked blocks changed: every line outside them is kept, in order
    outside = [line for line in original.splitlines() if "pooltui snapshot PID -o r.json" not in line]
    assert outside == [line for line in rewritten.splitlines() if "pooltui snapshot PID -o r.json" not in line]


def test_a_page_without_a_block_for_a_measured_section_is_an_error(tmp_path):
    doc = tmp_path / "speed.md"
    doc.write_text("# Speed\n\nno tables here\n")
    result = _run("--doc", str(doc))
    assert result.returncode != 0 and "no <!-- bench:NAME --> block" in result.stderr
