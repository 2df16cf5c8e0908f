"""Textual's Input, with its own bound keys (backspace, delete, arrows, home/end, enter, …)
acted on when the key arrives, in order with the characters typed around them.

Textual 8.2 (seen on 8.2.8) inserts a printable key in ``Input._on_key`` at once, but a key
bound to one of the Input's actions is not handled there: it bubbles up through the parents'
message queues to the App, which then runs the binding. Keys that arrive together (one read
of the terminal: fast typing, a paste-like burst, tmux ``send-keys``, a slow ssh link) are
all queued at the Input first, so the characters are inserted before the backspaces run, and
the backspaces then delete them: ``End BSpace×4 m d`` turned ``report.json`` into
``report.js`` instead of ``report.md``. Here the Input runs its own binding for the key
itself, before the next key is taken from its queue; keys it does not bind bubble as before.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding
from textual.widgets import Input


def own_bindings(widget_class: type) -> dict[str, list[Binding]]:
    """key -> the bindings ``widget_class`` declares for it (its own and inherited BINDINGS,
    a subclass's replacing its base's for the same key, as Textual merges them)."""
    keys: dict[str, list[Binding]] = {}
    for cls in reversed(widget_class.__mro__):
        declared: dict[str, list[Binding]] = {}
        for binding in Binding.make_bindings(cls.__dict__.get("BINDINGS", ())):
            declared.setdefault(binding.key, []).append(binding)
        keys.update(declared)
    return keys


class OrderedInput(Input):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bound_keys = own_bindings(type(self))

    async def on_key(self, event: events.Key) -> None:
        if event.is_printable:
            return  # Input inserts it, in its own handler, after this one
        for binding in self.bound_keys.get(event.key, ()):
            if binding.priority:
                continue  # the App has run those before the key reached the Input
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()  # handled: neither Input's handler nor the parents see it again
                return
