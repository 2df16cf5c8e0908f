#!/usr/bin/env python3
"""Record the reports an older pooltui saved, for the test that this one still reads them
(tests/unit/test_schema_upgrade.py): each with that pooltui's own Markdown of it.

  scripts/record_old_reports.py OLD_CHECKOUT [OUT_DIR]

OLD_CHECKOUT is a checkout of the older pooltui with its .venv (`git worktree add /tmp/old
COMMIT && make -C /tmp/old install`); OUT_DIR defaults to tests/fixtures/schema1. For each
scenario below, its demo (OLD_CHECKOUT/demo, run by that .venv's python) reaches its state
and says so on a FIFO, `pooltui snapshot --format json` of it is written, the demo is
stopped, and the old code renders the report as Markdown (run from another directory, so
that it imports its own package, not this checkout's). Nothing is typed by hand.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# scenario -> extra `pooltui snapshot` arguments: one with a timeline (two samples), a
# blocked asyncio loop (Wait.coroutine since report/2), a socket read whose other end is
# outside the tree (Wait.far since report/2)
SCENARIOS = {
    "abba": ["--samples", "2", "--interval", "0.5"],
    "asyncio_blocked": [],
    "outside_peer": [],
}
RENDER = (
    "import sys; from pooltui.report import load_report, render; "
    "r = load_report(sys.argv[1]); sys.stdout.write(render(r.snapshot, 'md', r.timeline))"
)


def record(old: Path, scenario: str, extra: list[str], out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fifo = Path(tmp) / "ready"
        os.mkfifo(fifo)
        demo = subprocess.Popen(
            [old / ".venv/bin/python", old / "demo" / f"{scenario}.py", "--ready", fifo, "--workers", "2", "--lifetime", "120"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with open(fifo) as ready:  # blocks until the demo reached its state
                if not ready.readline():
                    sys.exit(f"{scenario}: the demo ended before it was ready")
            report = out / f"{scenario}.json"
            subprocess.run([old / ".venv/bin/pooltui", "snapshot", str(demo.pid), "--format", "json", "-o", report, *extra], check=False)
        finally:
            os.killpg(demo.pid, signal.SIGTERM)
            demo.wait()
    markdown = subprocess.run([old / ".venv/bin/python", "-c", RENDER, report], cwd=tempfile.gettempdir(), check=True, capture_output=True, text=True)
    (out / f"{scenario}.md").write_text(markdown.stdout)
    print(f"{report} ({report.stat().st_size} bytes) and its .md")


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    old = Path(sys.argv[1]).resolve()
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else ROOT / "tests" / "fixtures" / "schema1"
    out.mkdir(parents=True, exist_ok=True)
    for scenario, extra in SCENARIOS.items():
        record(old, scenario, extra, out)


if __name__ == "__main__":
    main()
