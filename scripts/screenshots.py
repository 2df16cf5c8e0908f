#!/usr/bin/env python3
"""Write SVG screenshots of the real app over recorded reports into screenshots/
(``make screenshots``). Each shot drives the app with Pilot, like a user would.

Inputs are the recorded reports in tests/fixtures (raw captures from the fixture
recorder are analysed first, as a live source would). Times are shown in UTC so the
files do not change with the machine's time zone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pooltui.analysis import analyze  # noqa: E402
from pooltui.model import Snapshot, Timeline  # noqa: E402
from pooltui.report import load_report  # noqa: E402
from pooltui.sources import RecordedSource  # noqa: E402
from pooltui.ui.app import PoolApp  # noqa: E402
from pooltui.ui.widgets.process_tree import ProcessTree  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
POOL, LATER, KILLED = "tui-pool-py311.json", "tui-pool-py311-later.json", "tui-pool-killed-py311.json"


def load(name: str) -> Snapshot:
    snapshot = load_report(FIXTURES / name).snapshot
    if all(p.role == "other" for p in snapshot.processes):  # a raw capture: analyse it as a live source does
        snapshot = analyze(snapshot)
    return snapshot


def source(*names: str) -> RecordedSource:
    snaps = [load(n) for n in names]
    timeline = Timeline(snapshots=tuple(snaps)) if len(snaps) > 1 else None
    return RecordedSource(snaps[-1], timeline, path=names[-1])


def interesting(snapshot: Snapshot) -> int:
    """The process a reader should look at: named by the worst diagnosis, else blocked, else the root."""
    for d in snapshot.diagnoses:
        if d.pids:
            return d.pids[0]
    from pooltui.analysis.waits import process_state

    blocked = [p.pid for p in snapshot.processes if process_state(p) == "blocked" and p.pid != snapshot.root_pid]
    return blocked[0] if blocked else snapshot.root_pid


Step = Callable[[object], Awaitable[None]]


def select(pid: int) -> Step:
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.screen.query_one(ProcessTree).select_pid(pid)  # inside its group, if it is in one
        await pilot.pause()

    return run


def press(*keys: str) -> Step:
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(*keys)
        await pilot.pause()

    return run


async def shoot(out: Path, app: PoolApp, size: tuple[int, int], *steps: Step) -> None:
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for step in steps:
            await step(pilot)
        for box in app.screen.query("Input"):
            box.cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()
        app.save_screenshot(out.name, str(out.parent))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def spinner(snapshot: Snapshot) -> int:
    return next((p.pid for p in snapshot.processes for t in p.threads for f in t.frames if f.function == "spin"), snapshot.root_pid)


def demo_reports() -> list[str]:
    """One recorded capture per demo scenario (Python 3.12), for the gallery in docs/demos.md."""
    return sorted(p.name for p in FIXTURES.glob("*-py3.12.json") if "-native-" not in p.name)  # a --native capture is a variant, not a scenario


async def main(out: Path, size: tuple[int, int], reports: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pool = load(POOL)
    await shoot(out / "main.svg", PoolApp(source(POOL)), size, select(interesting(pool)))
    await shoot(out / "diff.svg", PoolApp(source(POOL, LATER)), size, select(spinner(pool)), press("x"))
    await shoot(out / "events.svg", PoolApp(source(LATER, KILLED)), size)
    await shoot(out / "help.svg", PoolApp(source(POOL)), size, press("question_mark"))
    await shoot(out / "save.svg", PoolApp(source(POOL)), size, press("s"))
    await shoot(out / "narrow.svg", PoolApp(source(POOL)), (80, 24), select(interesting(pool)))
    for name in reports or demo_reports():
        snap = load(name)
        await shoot(out / f"{Path(name).stem}.svg", PoolApp(source(name)), size, select(interesting(snap)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="folder for the SVGs (default screenshots/)")
    parser.add_argument("--size", default="140x40", help="terminal size COLSxROWS (default 140x40)")
    parser.add_argument("reports", nargs="*", help="fixtures (names in tests/fixtures) to shoot, one SVG each (default: every demo on 3.12)")
    args = parser.parse_args()
    os.environ["TZ"] = "UTC"
    time.tzset()
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    asyncio.run(main(args.out, (cols, rows), args.reports))
