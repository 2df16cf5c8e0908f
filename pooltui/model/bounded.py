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
from typing import Any, Callable, Generic, Optional, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])

_MISSING: Any = object()  # get()'s default where a kept None must be told from nothing kept
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
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
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

    def get(self, key: K, default: Optional[V] = None) -> Optional[V]:
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
        """The value kept for ``key`` (a kept None included), else ``compute()``, kept."""
        found = self.get(key, _MISSING)  # type: ignore[arg-type]
        if found is _MISSING:
            return self.put(key, compute())
        return found  # type: ignore[return-value]

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


def memoize(max_bytes: int) -> Callable[[F], F]:
    """``functools.lru_cache`` for a pure function, bounded by the bytes of its arguments
    and results (``size_of``) instead of a count. ``fn.cache`` is the ``ByteLRU``."""

    def wrap(fn: F) -> F:
        cache: ByteLRU[tuple, Any] = ByteLRU(max_bytes)

        @functools.wraps(fn)
        def cached(*args: Any) -> Any:
            return cache.get_or_put(args, lambda: fn(*args))

        cached.cache = cache  # type: ignore[attr-defined]
        cached.cache_clear = cache.clear  # type: ignore[attr-defined]
        return cached  # type: ignore[return-value]

    return wrap
