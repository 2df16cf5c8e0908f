"""Textual's OptionList, with a moved highlight repainting just the two options it moved
between instead of every visible line (the process tree has a row per process: at 128
that was ~10 ms of rendering per arrow key, which a capture in flight makes worse).

Where an option sits is worked out here from public API (each prompt's ``Content`` height
at the width OptionList lays options out at), not read from OptionList's private line map."""

from __future__ import annotations

from typing import Optional

from textual import widgets
from textual.content import Content
from textual.geometry import Region
from textual.reactive import reactive


class OptionList(widgets.OptionList):
    # the library's own ``highlighted`` repaints the whole widget on every change
    highlighted: reactive[Optional[int]] = reactive(None, repaint=False)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._spans: tuple[object, list[tuple[int, int]]] = ((), [])  # (what it was measured for, (top line, height) per option)

    def watch_highlighted(self, old: Optional[int], new: Optional[int]) -> None:  # type: ignore[override]
        self._repaint_option(old)
        self._repaint_option(new)
        super().watch_highlighted(new)  # scrolls to it (a scroll repaints all) and posts OptionHighlighted

    def option_span(self, index: int) -> Optional[tuple[int, int]]:
        """(first line, height) of option ``index`` in the list's virtual space, or None when
        it cannot be told (an option that is not Content, no layout yet)."""
        width = self.scrollable_content_region.width - self.get_component_styles("option-list--option").padding.width
        options = self.options
        key = (width, tuple(id(o.prompt) for o in options))
        if key != self._spans[0]:
            spans: list[tuple[int, int]] = []
            top = 0
            for option in options:
                if not isinstance(option.prompt, Content) or width <= 0:
                    spans = []
                    break
                # textual 8.2 annotates `rules` as a RulesMap yet passes Widget.styles itself (widget.py)
                height = option.prompt.get_height(self.styles, width)  # type: ignore[arg-type]
                spans.append((top, height))
                top += height
            self._spans = (key, spans)
        spans = self._spans[1]
        return spans[index] if 0 <= index < len(spans) else None

    def _repaint_option(self, index: Optional[int]) -> None:
        if index is None or not self.is_mounted or index >= self.option_count:
            return
        span = self.option_span(index)
        if span is None:
            self.refresh()  # not measurable here: the whole list, as the library would
            return
        top, height = span
        self.refresh(Region(0, top - self.scroll_offset.y, self.scrollable_content_region.width, height))
