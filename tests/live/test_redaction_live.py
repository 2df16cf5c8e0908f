"""No secret-looking local or argument reaches a report, through any path that dumps a
process: a plain snapshot, ``--locals``, ``--samples N`` (whose later samples look closer
at processes parked at one line: a dump with locals of their telling values), a live
source refreshed twice (the same look closer), and the TUI's dump keys through the source
(`d`: some pids again, `D`: every pid, `l`: with locals). Each result is rendered in every
report format.

The target (tests/targets/secrets_target.py) holds ``api_key``, ``password`` and ``token``
locals whose values read like a connection error, the kind of value a closer look keeps
(capture.workers), and ``--token VALUE`` in its command line.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from pooltui import scenarios
from pooltui.capture.snapshot import CaptureOptions
from pooltui.model import Snapshot, Timeline, replace
from pooltui.report import load_report, render
from pooltui.sources import LiveSource
from tests.conftest import interpreter_params, run_cli

pytestmark = pytest.mark.live
TARGET = Path(__file__).resolve().parent.parent / "targets" / "secrets_target.py"
FORMATS = ("json", "md", "html")


@pytest.fixture(params=interpreter_params(("2.7", "3.12")))
def target(request, tmp_path):  # type: ignore[no-untyped-def]
    """(pid, the secret values) of a running secrets_target."""
    seed = secrets.token_hex(8)
    argv_token = "ARGV" + secrets.token_hex(8)
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    env = {**os.environ, "SECRET_SEED": seed}
    proc = subprocess.Popen([request.param, str(TARGET), str(fifo), "--token", argv_token], env=env, start_new_session=True)
    try:
        scenarios.wait_ready(str(fifo), proc, 60)
        yield proc.pid, ("AK" + seed, "PW" + seed, "TK" + seed, argv_token)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def leaks(text: str, values: tuple[str, ...]) -> list[str]:
    return [v for v in values if v in text or json.dumps(v)[1:-1] in text]


def assert_clean(snapshot: Snapshot, timeline: Timeline | None, values: tuple[str, ...], how: str) -> None:
    for fmt in FORMATS:
        found = leaks(render(snapshot, fmt, timeline), values)
        assert not found, f"{how}, {fmt}: secret values in the report: {found}"


def snapshot_cli(pid: int, out: Path, values: tuple[str, ...], *args: str) -> None:
    """``pooltui snapshot PID -o out.json ARGS``; the file written, then the same report as
    Markdown and HTML (the renderers ``--format md|html`` use), free of every secret."""
    done = run_cli("snapshot", str(pid), "-o", str(out), *args)
    assert done.returncode in (0, 1), done.stderr
    assert not leaks(out.read_text(), values), f"snapshot {' '.join(args)}: secret values in the JSON file"
    report = load_report(out)
    assert_clean(report.snapshot, report.timeline, values, f"snapshot {' '.join(args)}")


def test_cli_snapshots_keep_no_secret(target, tmp_path):
    pid, values = target
    snapshot_cli(pid, tmp_path / "plain.json", values)
    snapshot_cli(pid, tmp_path / "locals.json", values, "--locals")
    snapshot_cli(pid, tmp_path / "samples.json", values, "--samples", "3", "--interval", "0.5")


def test_live_source_paths_keep_no_secret(target):
    pid, values = target
    source = LiveSource(pid)

    async def refreshes() -> list[tuple[str, Snapshot, Timeline]]:
        seen = []

        async def take(how: str, **kwargs) -> Snapshot:  # type: ignore[no-untyped-def]
            snapshot = await source.capture(**kwargs)
            seen.append((how, snapshot, source.as_timeline()))  # the timeline as a save at that moment writes it
            return snapshot

        await take("first capture")
        await take("refresh (looks closer at a parked process)")
        last = await take("third refresh (keeps what the closer look found)")
        await take("`d` on the root", pids=(pid,))
        await take("`D`: every process", pids=tuple(p.pid for p in last.processes))
        await take("`l`: with locals", options=replace(CaptureOptions(), locals=True))
        await take("`l` off again")
        return seen

    for how, snapshot, timeline in asyncio.run(refreshes()):
        assert_clean(snapshot, timeline, values, how)
