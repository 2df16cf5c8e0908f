"""The base of the model's records, and ``replace`` for them.

A record is a frozen ``msgspec.Struct``, not a frozen dataclass (issue 28): a dataclass
writes its ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and
``__delattr__`` as source text and compiles each when its class is created -- ~0.7 ms of
CPU per class, and compiling that text was 13 % of every instruction a ``pooltui snapshot``
of a blocked Pool(64) ran (callgrind). A Struct's class is built in C, its instances
made, compared and replaced in C too. Both are frozen, compared and hashed by value, and
encoded by msgspec field by field in the same order (a report loaded from an older file is
saved with every field it lacked as its default, where a dataclass left those out).

What differs, kept in mind where records are made: ``replace`` below (``dataclasses.replace``
accepts no Struct); no attribute outside the fields (slots: no ``cached_property``); a
``__post_init__`` that normalizes a field sets it with ``msgspec.structs.force_setattr``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import msgspec.structs

R = TypeVar("R")

# msgspec.structs.replace runs __post_init__ from 0.21 (0.21.0's "BREAKING" note); older ones
# (the newest for Python 3.9 is 0.20) leave it to the caller
_REPLACE_RUNS_POST_INIT = tuple(int(x) for x in msgspec.__version__.split(".")[:2] if x.isdigit()) >= (0, 21)

force_setattr = msgspec.structs.force_setattr  # msgspec 0.18.5 and later
field = msgspec.field


class Record(msgspec.Struct, frozen=True):
    """A frozen value: compared and hashed by its fields, changed only by ``replace``."""


def replace(obj: R, /, **changes: Any) -> R:
    """``obj`` with ``changes``: a record (msgspec) or any other dataclass."""
    if isinstance(obj, msgspec.Struct):
        new = msgspec.structs.replace(obj, **changes)
        if not _REPLACE_RUNS_POST_INIT and hasattr(new, "__post_init__"):
            new.__post_init__()  # what a record normalizes (a plain str kind made a Kind) holds after replace too
        return new
    import dataclasses  # not at the top: it imports inspect, ast and tokenize, which no record needs

    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def field_names(obj: Any) -> tuple[str, ...]:
    """The field names of a record or dataclass (its class or an instance)."""
    names = getattr(obj, "__struct_fields__", None)
    if names is not None:
        return tuple(names)
    return tuple(getattr(obj, "__dataclass_fields__", ()))
