"""Textual's OptionList, with a moved highlight repainting just the two options it moved
between instead of every visible line (the process tree has a row per process: at 128
that was ~10 ms of rendering per arrow key, which a capture in flight makes worse)."""

from __future__ import annotations

from typing import Optional

from textual import widgets
from textual.geometry import Region
from textual.reactive import reactive


class OptionList(widgets.OptionList):
    # the library's own ``highlighted`` repaints the whole widget on every change
    highlighted: reactive[Optional[int]] = reactive(None, repaint=False)

    def watch_highlighted(self, old: Optional[int], new: Optional[int]) -> None:  # type: ignore[override]
        self._repaint_option(old)
        self._repaint_option(new)
        super().watch_highlighted(new)  # scrolls to it (a scroll repaints all) and posts OptionHighlighted

    def _repaint_option(self, index: Optional[int]) -> None:
        # _index_to_line / _heights: OptionList's line map (textual is pinned, see pyproject.toml)
        if index is None or not self.is_mounted or index >= self.option_count:
            return
        y = self._index_to_line.get(index)
        if y is not None:
            self.refresh(Region(0, y - self.scroll_offset.y, self.scrollable_content_region.width, self._heights[index]))
