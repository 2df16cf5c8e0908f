"""The option lists repaint only the two options a moved highlight left and reached
(ui/widgets/option_list.py, measured with public API): what is drawn after the moves is
what a full repaint draws, for one-line rows (the tree) and wrapped multi-line ones (threads)."""

from __future__ import annotations

import os

import pytest

from pooltui.sources import RecordedSource
from pooltui.ui.app import PoolApp
from tests.conftest import load_fixture
from tests.ui.conftest import pilot, threads, tree

pytestmark = pytest.mark.tui


def drawn(app: PoolApp) -> str:
    """The screen with its colours, as a terminal gets it."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, record=True, file=open(os.devnull, "w"), color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=True)


@pytest.mark.parametrize("size", [(160, 50), (70, 40)], ids=["wide", "narrow"])
@pilot
async def test_a_moved_highlight_draws_what_a_full_repaint_draws(size):
    snap, _ = load_fixture("mp_abba-py3.12")
    app = PoolApp(RecordedSource(snap))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for widget, moves in ((tree(app), ["down", "down", "up", "down"]), (threads(app), ["down", "down", "up"])):
            widget.focus()
            for key in moves:
                await pilot.press(key)
                await pilot.pause()
                partial = drawn(app)
                widget.refresh()
                await pilot.pause()
                assert drawn(app) == partial, f"{type(widget).__name__} after {key!r}: a row kept a stale highlight"
            assert all(widget.option_span(i) is not None for i in range(widget.option_count))
