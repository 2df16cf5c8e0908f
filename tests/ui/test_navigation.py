"""Getting around by keyboard. `enter` on a thread blocked by an orphaned lock goes to the parent's thread that held it
at fork; where there is no holder the footer says "why no holder" and `enter` says why;
`attach WORKER_PID` opens with that worker selected (Pilot, recorded demo captures)."""

from __future__ import annotations

import pytest

from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from tests.conftest import load_fixture
from tests.ui.conftest import ScriptedSource, pilot, screen_text, threads, tree

pytestmark = pytest.mark.tui
SIZE = (160, 50)


def footer_keys(app: PoolApp) -> dict[str, str]:
    """action -> description of the enabled keys the footer shows."""
    from textual.widgets._footer import FooterKey

    return {k.action: k.description for k in app.screen.query(FooterKey) if not k.has_class("-disabled")}


@pilot
async def test_enter_on_an_orphaned_lock_goes_to_the_thread_that_held_it_at_fork():
    snap, truth = load_fixture("logging_fork-py3.12")
    holder, worker = truth["truth"]["holder"], truth["truth"]["worker_pids"][0]
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != worker:
            await pilot.press("down")
        await pilot.press("tab")
        await pilot.pause()
        assert footer_keys(app).get("follow_fork") == "go to holder at fork"
        assert "enter: go to the parent's thread that held it at fork()" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert tree(app).selected_pid == holder["pid"]
        assert threads(app).selected.tid == holder["tid"] and threads(app).selected.name == "log-flusher"


@pilot
async def test_no_holder_to_go_to_is_said_in_the_footer_and_by_enter():
    snap, _ = load_fixture("dead_holder-py3.12")
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        current = app.session.current
        waiter = next(p.pid for p in current.processes for t in p.threads if t.wait is not None and t.wait.lock_id)
        while tree(app).selected_pid != waiter:
            await pilot.press("down")
        await pilot.press("tab")
        while not (threads(app).selected.wait and threads(app).selected.wait.lock_id):
            await pilot.press("down")
        await pilot.pause()
        assert footer_keys(app).get("why_no_holder") == "why no holder"
        await pilot.press("enter")
        await pilot.pause()
        assert tree(app).selected_pid == waiter  # nothing moved
        assert any("holder died" in str(n.message) for n in app._notifications)


@pilot
async def test_attach_to_a_worker_opens_on_that_worker_in_the_whole_tree():
    snap, truth = load_fixture("logging_fork-py3.12")
    worker = truth["truth"]["worker_pids"][1]
    source = ScriptedSource(snap, root_pid=snap.root_pid)
    source.target_pid = worker  # as LiveSource: the pid given to `attach`, the root found from it
    app = PoolApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert tree(app).selected_pid == worker
        assert tree(app).pids[0] == snap.root_pid  # still rooted at the pool


@pilot
async def test_search_inside_stacks_and_next_previous_match():
    snap, truth = load_fixture("logging_fork-py3.12")
    workers = truth["truth"]["worker_pids"]
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"flush_lock", "enter")
        await pilot.pause()
        assert tree(app).pids == workers  # only the processes whose stacks hold it
        assert footer_keys(app).get("next_match") == "next match"
        assert tree(app).selected_pid == workers[0] and threads(app).selected.wait.lock_id
        seen = [tree(app).selected_pid]
        for _ in workers:
            await pilot.press("right_square_bracket")
            await pilot.pause()
            seen.append(tree(app).selected_pid)
        assert seen == [*workers, workers[0]]  # round to the first
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert tree(app).selected_pid == workers[-1]
        await pilot.press("escape")
        await pilot.pause()
        assert len(tree(app).pids) == len(snap.processes) and "next_match" not in footer_keys(app)


@pilot
async def test_tab_cycles_every_pane_and_the_footer_shows_its_keys():
    from pooltui.ui.widgets.panels import DiagnosesPanel, EventLog

    snap, _ = load_fixture("logging_fork-py3.12")
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=(80, 24)) as pilot:  # small: the diagnoses do not fit
        await pilot.pause()
        diagnoses, events = app.screen.query_one(DiagnosesPanel), app.screen.query_one(EventLog)
        assert tree(app).has_focus
        # the tree's keys (diff is shown dimmed: a single recorded snapshot has nothing to compare with)
        tree_keys = {"screen.mark", "screen.diff", "switch_pane", "filter", "help", "quit"}
        assert tree_keys <= await footer_shows(pilot, app, tree_keys)
        await pilot.press("tab")
        assert threads(app).has_focus
        thread_keys = {"screen.toggle_locals", "screen.toggle_native", "follow", "switch_pane"}
        assert thread_keys <= await footer_shows(pilot, app, thread_keys)
        assert "screen.mark" not in all_footer_keys(app)  # a tree key: still works here, not shown
        await pilot.press("tab")
        assert diagnoses.has_focus and "scroll_down" in footer_keys(app)
        assert diagnoses.max_scroll_y > 0, "the test needs diagnoses below the fold"
        for _ in range(diagnoses.max_scroll_y):
            await pilot.press("down")
        await pilot.pause()
        assert diagnoses.scroll_y == diagnoses.max_scroll_y  # every diagnosis reachable by keyboard
        await pilot.press("tab")
        assert events.has_focus and footer_keys(app).get("choose") == "open core"  # up/down select an event (tests/ui/test_open_core.py)
        await pilot.press("tab")
        assert tree(app).has_focus
        await pilot.press("shift+tab")
        assert events.has_focus


async def footer_shows(pilot, app: PoolApp, wanted: set[str]) -> set[str]:  # type: ignore[no-untyped-def]
    """The footer's actions once it shows ``wanted`` -- or after 200 pauses: it recomposes
    after the focus changed, a moment later on a loaded machine (a wait on the app, never a
    fixed sleep)."""
    for _ in range(200):
        shown = all_footer_keys(app)
        if wanted <= shown:
            return shown
        await pilot.pause(0.05)
    return all_footer_keys(app)


def all_footer_keys(app: PoolApp) -> set[str]:
    """Every action the footer shows, enabled or dimmed."""
    from textual.widgets._footer import FooterKey

    return {k.action for k in app.screen.query(FooterKey)}


@pilot
async def test_every_key_in_the_readme_is_in_the_help():
    import re
    from pathlib import Path

    from pooltui.ui.screens.help import KEY_NAMES, HelpScreen

    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text()
    table = readme.split("| key | does |", 1)[1].split("\n\n", 1)[0]
    keys = {k for row in table.splitlines()[2:] for k in re.findall(r"`([^`]+)`", row.split("|")[1])}
    aliases = {"↑": "up", "↓": "down", "pgup": "pageup", "pgdn": "pagedown", "esc": "escape"}
    app = PoolApp(RecordedSource(load_fixture("logging_fork-py3.12")[0]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = {b.key for b in app.screen.bindings} | {b.key_display for b in app.screen.bindings if b.key_display}
        listed |= {KEY_NAMES.get(k, k) for k in listed} | {"up", "pageup"}  # the help lists ↓ and pgdn for the pair
        missing = {k for k in keys if aliases.get(k, k) not in listed and k not in listed}
        assert not missing, f"README keys missing from the ? help: {missing}"


@pilot
async def test_copy_puts_the_selection_on_the_clipboard_as_markdown():
    snap, truth = load_fixture("logging_fork-py3.12")
    worker = truth["truth"]["worker_pids"][0]
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != worker:
            await pilot.press("down")
        await pilot.press("c")  # the tree: the whole process
        assert app.clipboard.startswith(f"pid {worker} — ") and "```" in app.clipboard
        await pilot.press("tab", "c")  # the thread: its wait line, escaped, and its stack
        text = app.clipboard
        assert "flush\\_lock" in text or "flush_lock" in text
        assert "**MainThread**" in text and "▶ BufferingHandler.emit" in text and text.count("```") == 2
        await pilot.press("tab", "c")  # the diagnoses: every verdict
        assert "`orphaned_lock`" in app.clipboard and "*Fix:*" in app.clipboard


@pilot
async def test_threads_with_the_same_stack_are_one_row_with_a_count_and_g_expands():
    from pooltui.analysis import analyze
    from pooltui.model import replace

    raw, truth = load_fixture("logging_fork-py3.12")
    snap = analyze(raw)  # threads copied after the analysis: each copy keeps the wait line
    worker = snap.process(truth["truth"]["worker_pids"][0])
    base = worker.threads[0]
    many = replace(worker, threads=tuple(replace(base, tid=base.tid + i, name=f"handler-{i}") for i in range(5)))
    snap = snap.with_(processes=tuple(many if p.pid == worker.pid else p for p in snap.processes))
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        while tree(app).selected_pid != worker.pid:
            await pilot.press("down")
        await pilot.press("tab")
        await pilot.pause()
        assert threads(app).option_count == 1 and "×5 the same stack and wait" in screen_text(app)
        await pilot.press("g")
        await pilot.pause()
        assert threads(app).option_count == 5
        await pilot.press("down", "down")
        assert threads(app).selected.name == "handler-2"
        await pilot.press("g")  # grouped again: the selection stays on its group
        await pilot.pause()
        assert threads(app).option_count == 1 and threads(app).selected.name == "handler-0"
