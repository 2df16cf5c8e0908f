"""What the headless commands import: ``pooltui snapshot`` of a real process and
``pooltui --version`` load nothing of the TUI (textual, rich), no validator they do not
use, and no renderer of another format; and the classes ``pooltui snapshot`` creates are
records (``model.record``: msgspec Structs, built in C), not dataclasses, whose methods are
compiled from source text as each class is created (~0.7 ms of CPU a class). A property of
the code paths, not a time: the time it buys is measured by ``make bench`` (docs/speed.md).
msgspec is what the model's records are: every command imports it."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.live

HEAVY = ("textual", "rich", "pydantic", "pydantic_core", "textual_serve")

RUN = (
    "import sys\n"
    "from pooltui.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    "made = [f'{m}.{n}' for m in list(sys.modules) if m.startswith('pooltui') for n, c in vars(sys.modules[m]).items()\n"
    "        if isinstance(c, type) and c.__module__ == m and '__dataclass_fields__' in c.__dict__]\n"
    "print(' '.join(sorted(made)), file=sys.stderr)\n"
    "print('exit', code, file=sys.stderr)\n"
)


def imported(*argv: str) -> tuple[set[str], str]:
    modules, _, out = imported_and_dataclasses(*argv)
    return modules, out


def imported_and_dataclasses(*argv: str) -> tuple[set[str], set[str], str]:
    """The modules a command imported, the dataclasses of pooltui's among them, its stdout."""
    out = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True, timeout=120)
    lines = out.stderr.strip().split("\n")
    assert lines[-1] == "exit 0", out.stderr
    return set(lines[-3].split()), set(lines[-2].split()), out.stdout


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"\n"  # its interpreter is up
    yield proc.pid
    proc.kill()
    proc.wait()


def _of(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


def test_snapshot_to_json_imports_no_tui_validator_or_other_renderer(sleeper, tmp_path):
    modules, dataclasses, _ = imported_and_dataclasses("snapshot", str(sleeper), "-o", str(tmp_path / "r.json"), "--format", "json")
    assert (tmp_path / "r.json").stat().st_size > 0
    assert _of(modules, HEAVY) == []
    assert not {"pooltui.ui", "pooltui.report.html", "pooltui.report.markdown"} & modules
    assert dataclasses == set()
    assert "dataclasses" not in modules  # nor the module itself


def test_snapshot_to_markdown_imports_no_tui_or_other_renderer(sleeper):
    modules, out = imported("snapshot", str(sleeper), "--format", "md")
    assert str(sleeper) in out
    assert _of(modules, HEAVY) == []
    assert "pooltui.report.html" not in modules


def test_version_imports_no_capture_and_no_event_loop():
    modules, out = imported("--version")
    assert out.startswith("pooltui ")
    assert _of(modules, (*HEAVY, "psutil", "asyncio")) == []
    assert not any(m.startswith(("pooltui.capture", "pooltui.analysis", "pooltui.report")) for m in modules)
