"""The UI takes a ``model.Source`` and reads it through that protocol's members only: no
``getattr`` probe for what a source may or may not have (a missing member is a type error,
caught by mypy, and an AttributeError here, not a silent default)."""

import inspect
from pathlib import Path

from pooltui.model import Source
from pooltui.sources import LiveSource, RecordedSource
from tests.conftest import load_fixture

UI = Path(__file__).resolve().parents[2] / "pooltui" / "ui"
MEMBERS = sorted(name for name, _ in inspect.getmembers(Source) if not name.startswith("_"))


def test_the_ui_probes_nothing_with_getattr():
    # serve.py's one getattr reads textual-serve's private table of downloads, not a source
    probes = sorted(str(p.relative_to(UI)) for p in UI.rglob("*.py") if "getattr(" in p.read_text() and p.name != "serve.py")
    assert probes == []


def test_both_sources_have_every_member_of_the_protocol():
    assert {"capture", "description", "events", "history", "live", "options", "root_pid", "target_pid"} <= set(MEMBERS)
    recorded = RecordedSource(load_fixture("abba-py3.12")[0])
    assert [m for m in MEMBERS if not hasattr(recorded, m)] == []
    set_in_init = {"target_pid", "root_pid", "options", "history"}  # LiveSource's instance attributes (it needs a live pid)
    assert [m for m in MEMBERS if not hasattr(LiveSource, m) and m not in set_in_init] == []
