"""Pilot tests: every key's effect on the app's state and on what the screen shows,
over recorded sources (no live process)."""

from __future__ import annotations

import stat
import time

import pytest
from textual import events
from textual.command import CommandList
from textual.widgets import Input

from pooltui.report import load_report
from pooltui.ui.app import PoolApp
from pooltui.ui.screens.diff import DiffScreen
from pooltui.ui.screens.help import HelpScreen
from pooltui.ui.screens.main import MainScreen
from pooltui.ui.screens.save import SaveDialog
from tests.ui.conftest import FIRST, LATER, ScriptedSource, pid_of, pilot, recorded, recorded_source, screen_text, threads, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


@pilot
async def test_main_view_shows_tree_threads_diagnoses_and_status():
    snap = recorded(FIRST)
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert tree(app).pids[0] == snap.root_pid and set(tree(app).pids) == {p.pid for p in snap.processes}
        text = screen_text(app)
        assert "pool parent" in text and "pool worker #1" in text and "not python" in text
        assert "recorded report" in text and "on vm" in text
        assert "MainThread" in text and "waits for pool results" in text
        assert "no problems found" in text


@pilot
async def test_arrow_selects_a_process_and_the_stack_pane_follows():
    snap = recorded(FIRST)
    holder = pid_of(snap, "hold_lock")
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != holder:
            await pilot.press("down")
        await pilot.pause()
        assert app.screen.query_one("#threads").process.pid == holder
        text = screen_text(app)
        assert f"threads · pid {holder}" in text
        assert "hold_lock" in text and "time.sleep(seconds)" in text


@pilot
async def test_process_error_shows_message_and_help():
    snap = recorded(FIRST)
    broken = next(p for p in snap.processes if p.error is not None)
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != broken.pid:
            await pilot.press("down")
        await pilot.pause()
        text = screen_text(app)
        assert "cannot read this process" in text
        assert broken.error.message[:30] in text
        assert "what to do" in text


@pilot
async def test_diff_key_shows_changed_and_unchanged_threads():
    app = PoolApp(recorded_source(FIRST, LATER))
    spinner = pid_of(recorded(LATER), "spin")
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.check_action("diff", ()) is True
        while tree(app).selected_pid != spinner:
            await pilot.press("down")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen) and app.screen.pid == spinner
        text = screen_text(app)
        assert "previous snapshot" in text and "threads:" in text
        assert "same" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@pilot
async def test_mark_sets_the_diff_base():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.check_action("diff", ()) is None  # one snapshot: nothing to compare
        await pilot.press("m")
        assert app.session.marked is app.session.current
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen) and "marked snapshot" in screen_text(app)


@pilot
async def test_save_dialog_writes_a_report_that_loads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("POOLTUI_REPORTS", raising=False)
    snap = recorded(FIRST)
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SaveDialog)
        name = app.screen.query_one("#save-path", Input).value
        base = f"pooltui-vm-{snap.root_pid}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(snap.created))}.json"  # TZ is UTC
        assert name == f"~/pooltui-reports/{base}"  # one folder for reports, not wherever pooltui was started
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        saved = tmp_path / "pooltui-reports" / base
        assert any(str(saved) in str(n.message) for n in app._notifications)  # says where it went
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert load_report(saved).snapshot.processes == snap.processes


@pilot
async def test_save_dialog_shows_errors_and_keeps_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        box = app.screen.query_one("#save-path", Input)
        box.value = str(tmp_path / "missing" / "r.md")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaveDialog) and box.value.endswith("missing/r.md")
        assert "does not exist" in screen_text(app)
        (tmp_path / "old.md").write_text("keep me")
        box.value = str(tmp_path / "old.md")
        await pilot.press("enter")
        await pilot.pause()
        assert "exists" in screen_text(app) and (tmp_path / "old.md").read_text() == "keep me"
        await pilot.press("enter")  # again: replace it
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert (tmp_path / "old.md").read_text().startswith("# pooltui report")


def burst(app: PoolApp, *keys: str) -> None:
    """Queue keys as a terminal read delivers them when typed fast (or by tmux send-keys):
    all of them before the app handles the first; pilot.press waits after each key."""
    for key in keys:
        app.post_message(events.Key(key, {"backspace": "\x7f", "left": None, "end": None, "home": None}.get(key, key)))


@pilot
async def test_keys_typed_in_one_burst_edit_the_save_name_as_typed_one_by_one():
    """`End BSpace×4 m d` in one burst: `.json` becomes `.md` (it was `.js`: the characters
    went in before the backspaces ran, which then deleted them)."""
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        box = app.screen.query_one("#save-path", Input)
        stem = box.value.removesuffix("json")
        burst(app, "end", *["backspace"] * 4, "m", "d")
        await pilot.pause()
        assert box.value == stem + "md"
        burst(app, "home", "x", "end", "left", "backspace", "y")
        await pilot.pause()
        assert box.value == "x" + stem + "yd"


@pilot
async def test_keys_typed_in_one_burst_filter_as_typed_one_by_one():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        burst(app, *"runx", "backspace", *"ning")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "running"


@pilot
async def test_filter_narrows_the_tree_and_escape_clears_it():
    snap = recorded(FIRST)
    spinner = pid_of(snap, "spin")
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        assert app.screen.query_one("#filter", Input).has_focus
        await pilot.press(*"running")
        await pilot.pause()
        assert tree(app).pids == [spinner]
        assert not app.session.paused  # typed letters went to the filter, not to key bindings
        await pilot.press("enter")
        assert tree(app).has_focus and tree(app).pids == [spinner]
        await pilot.press("escape")
        await pilot.pause()
        assert len(tree(app).pids) == len(snap.processes)
        await pilot.press("slash", *str(snap.root_pid))
        await pilot.pause()
        assert snap.root_pid in tree(app).pids and len(tree(app).pids) == 1


@pilot
async def test_tab_switches_pane():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        assert tree(app).has_focus
        await pilot.press("tab")
        assert threads(app).has_focus
        await pilot.press("shift+tab")
        assert tree(app).has_focus


@pilot
async def test_enter_on_a_waiting_thread_goes_to_the_lock_holder():
    snap = recorded(FIRST)
    holder, waiter = pid_of(snap, "hold_lock"), pid_of(snap, "wait_for_lock")
    from pooltui.sources import RecordedSource

    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != waiter:
            await pilot.press("down")
        await pilot.pause()
        assert f"held by 'MainThread' (pid {holder})" in screen_text(app) and "enter: go to the holder" in screen_text(app)
        await pilot.press("tab")
        assert threads(app).check_action("follow", ()) is True
        await pilot.pause()
        assert footer_enter(app) == "enabled"
        await pilot.press("enter")
        await pilot.pause()
        assert tree(app).selected_pid == holder
        assert threads(app).selected.tid == holder and threads(app).has_focus
        assert footer_enter(app) == "disabled"  # the footer followed while the list had focus
        await pilot.press("enter")  # the holder waits on nothing: disabled, nothing moves
        assert tree(app).selected_pid == holder


def footer_enter(app: PoolApp) -> str:
    """How the footer shows `enter` (go to lock holder): "enabled", "disabled" or "absent"."""
    from textual.widgets._footer import FooterKey

    keys = [k for k in app.screen.query(FooterKey) if k.action == "follow"]
    return "absent" if not keys else "disabled" if keys[0].has_class("-disabled") else "enabled"


@pilot
async def test_help_opens_and_closes():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "dump all" in text and "go to lock holder" in text and "blocked" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@pilot
async def test_command_palette_lists_enabled_actions():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Save", "Search", "Help", "Mark", "Locals"} <= titles
        assert "Dump" not in titles and "Diff" not in titles  # disabled for this source / no base
        await pilot.press("ctrl+p", *"mark")
        deadline = time.monotonic() + 60  # the palette searches in a worker: wait for its hits
        while not app.screen.query_one(CommandList).option_count and time.monotonic() < deadline:
            await pilot.pause(0.02)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.marked is app.session.current and isinstance(app.screen, MainScreen)
    live = PoolApp(ScriptedSource(recorded(FIRST)), interval=3600, snapshot=recorded(FIRST))
    async with live.run_test(size=SIZE):
        titles = {c.title for c in live.get_system_commands(live.screen)}
        assert {"Dump", "Dump all", "Pause", "Native"} <= titles


@pilot
async def test_q_quits():
    app = PoolApp(recorded_source(FIRST))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


@pilot
async def test_save_dialog_refuses_devices_links_and_survives_undecodable_bytes(tmp_path, monkeypatch):
    """Issue 14 items 3 and 5: /dev/null or a symlink is refused in the dialog and left as it
    was; a snapshot with bytes that are not UTF-8 (surrogateescape) is saved, not a crash."""
    import os

    from pooltui.model import replace

    monkeypatch.chdir(tmp_path)
    snap = recorded(FIRST)
    odd = os.fsdecode(b"caf\xe9")
    snap = snap.with_(processes=tuple(replace(p, name=odd, cmdline=(*p.cmdline, odd)) for p in snap.processes))
    from pooltui.sources import RecordedSource

    (tmp_path / "secret").write_text("keep")
    (tmp_path / "link.json").symlink_to(tmp_path / "secret")
    app = PoolApp(RecordedSource(snap, path="tests/fixtures/x.json"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        box = app.screen.query_one("#save-path", Input)
        for bad in ("/dev/null", str(tmp_path / "link.json")):
            box.value = bad
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("enter")  # "save again" would not replace it either
            await pilot.pause()
            assert isinstance(app.screen, SaveDialog) and "not a regular file" in screen_text(app)
        box.value = str(tmp_path / "odd.md")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and (tmp_path / "secret").read_text() == "keep"
    assert "caf\\xe9" in (tmp_path / "odd.md").read_text(encoding="utf-8")
