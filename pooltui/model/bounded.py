"""Caches bounded by the bytes they hold, not by their number of entries.

Everything pooltui caches comes, one way or another, from a target: a function name, a
file's lines, a line table, a thread's frames. A cache bounded by count is unbounded in
memory when the target chooses the sizes (500 code objects with 64 KB line tables,
re-made every few seconds, grew a count-bounded cache to 1.26 GB). Each entry here is
charged an estimate of its size (``size_of`` or the cache's own ``size``), and the least
recently used entries go once the total passes the bound. An entry larger than the whole
bound is not kept at all.

``ByteLRU`` is a mapping for explicit use; ``memoize`` wraps a pure function of hashable
arguments (analysis uses it for per-stack classifications fork siblings share).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar, Union, overload

from pooltui.model.record import field_names

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")  # a default given for what is not kept
R = TypeVar("R")
if TYPE_CHECKING:
    from typing import ParamSpec

    P = ParamSpec("P")
else:  # typing.ParamSpec is 3.10+; at run time (3.9 included) Generic[P, R] needs only a TypeVar
    P = TypeVar("P")

ENTRY = 64  # bytes charged for an entry's own bookkeeping (dict slot, key tuple, links)
_DEPTH = 4  # size_of looks this deep into nested tuples / objects: deeper costs are charged flat


def size_of(value: object, depth: int = _DEPTH) -> int:
    """An estimate, in bytes, of what ``value`` keeps alive: the length of its strings and
    bytes plus a flat charge per object. Cheap (no ``sys.getsizeof`` walk of every
    object) and never below the truth by more than the flat charges."""
    if value is None or isinstance(value, (bool, int, float)):
        return 16
    if isinstance(value, (str, bytes, bytearray)):
        return 48 + len(value)
    if depth <= 0:
        return 64
    if isinstance(value, (tuple, list, frozenset, set)):
        return 56 + sum(8 + size_of(item, depth - 1) for item in value)
    if isinstance(value, dict):
        return 64 + sum(16 + size_of(k, depth - 1) + size_of(v, depth - 1) for k, v in value.items())
    fields = field_names(value)  # a record's or a dataclass's
    if fields:
        return 56 + sum(8 + size_of(getattr(value, name, None), depth - 1) for name in fields)
    return 64


class ByteLRU(Generic[K, V]):
    """A least-recently-used mapping whose entries together hold at most ``max_bytes``
    (by ``size(key, value)``, default ``size_of`` of both). Safe to share between the
    event loop and the capture's worker thread."""

    def __init__(self, max_bytes: int, size: Optional[Callable[[K, V], int]] = None) -> None:
        self.max_bytes = max_bytes
        self._size = size or (lambda key, value: size_of(key) + size_of(value))
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._data)

    @overload
    def get(self, key: K) -> Optional[V]: ...
    @overload
    def get(self, key: K, default: D) -> Union[V, D]: ...
    def get(self, key: K, default: Optional[D] = None) -> Union[V, D, None]:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return default
            self._data.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> V:
        cost = ENTRY + self._size(key, value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if cost > self.max_bytes:
                return value  # larger than the whole bound: not kept
            self._data[key] = (value, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, (_, freed) = self._data.popitem(last=False)
                self._bytes -= freed
        return value

    def get_or_put(self, key: K, compute: Callable[[], V]) -> V:
        """The value kept for ``key`` (a kept None included: an entry is a (value, cost) pair),
        else ``compute()``, kept."""
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
                return found[0]
        return self.put(key, compute())

    def pop(self, key: K, default: Optional[V] = None) -> Optional[V]:
        with self._lock:
            found = self._data.pop(key, None)
            if found is None:
                return default
            self._bytes -= found[1]
            return found[0]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


class Memoized(Generic[P, R]):
    """A pure function whose results ``memoize`` keeps: called as the function is (positional
    arguments, hashable), ``cache`` is the ``ByteLRU``, ``cache_clear()`` empties it."""

    def __init__(self, fn: Callable[P, R], max_bytes: int) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        self.cache: ByteLRU[tuple[Any, ...], R] = ByteLRU(max_bytes)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs:  # the key is the positional arguments: a keyword one would be a different key
            raise TypeError(f"{self._fn.__name__} is memoized: pass its arguments by position")
        return self.cache.get_or_put(args, lambda: self._fn(*args, **kwargs))

    def cache_clear(self) -> None:
        self.cache.clear()


def memoize(max_bytes: int) -> Callable[[Callable[P, R]], Memoized[P, R]]:
    """``functools.lru_cache`` for a pure function, bounded by the bytes of its arguments
    and results (``size_of``) instead of a count. ``fn.cache`` is the ``ByteLRU``."""

    def wrap(fn: Callable[P, R]) -> Memoized[P, R]:
        return Memoized(fn, max_bytes)

    return wrap
