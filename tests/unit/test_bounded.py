"""Caches are bounded by the bytes they hold (pooltui.model.bounded), and the capture's
caches belong to the state a source owns (pooltui.capture.state): a target that makes
its strings and tables as large as it likes cannot grow pooltui past the bound."""

from __future__ import annotations

import contextvars

from pooltui.capture import state
from pooltui.capture.memory import lines
from pooltui.model.bounded import ByteLRU, memoize, size_of


def test_entries_go_least_recently_used_first_once_the_bytes_pass_the_bound():
    cache: ByteLRU[str, bytes] = ByteLRU(10_000)
    for i in range(100):
        cache.put(f"k{i}", b"x" * 1000)
        cache.get("k0")  # kept in use
    assert cache.nbytes <= 10_000
    assert "k0" in cache and "k99" in cache and "k1" not in cache


def test_an_entry_larger_than_the_bound_is_not_kept():
    cache: ByteLRU[str, bytes] = ByteLRU(1000)
    cache.put("small", b"x")
    assert cache.put("big", b"x" * 5000) == b"x" * 5000
    assert "big" not in cache and "small" in cache


def test_a_stored_none_is_told_from_a_missing_key():
    cache: ByteLRU[str, None] = ByteLRU(1000)
    missing = object()
    cache.put("k", None)
    assert cache.get("k", missing) is None
    assert cache.get("other", missing) is missing


def test_size_of_counts_what_a_target_chooses():
    assert size_of(b"x" * 65536) > 65536
    assert size_of(("a" * 4096, ("b" * 4096,))) > 8192


def test_line_tables_of_a_churning_target_stay_within_the_bound():
    """500 code objects with 64 KB line tables, re-made again and again (each a new
    table): what grew a count-bounded cache to 1.26 GB stays within the state's bound."""
    kept = state.CaptureState()
    with state.active(kept):
        for rebuild in range(4):
            for i in range(500):
                table = bytes([rebuild, i % 256]) + b"\x00" * 65534
                lines.line_of("lnotab", table, 1, 0)
    assert kept.lines.nbytes <= kept.lines.max_bytes
    assert kept.nbytes <= kept.max_bytes <= 128 << 20


def test_two_sources_never_share_what_they_learned():
    a, b = state.CaptureState(), state.CaptureState()
    with state.active(a):
        lines.line_of("lnotab", b"\x00\x01", 7, 0)
    assert len(a.lines) == 1 and len(b.lines) == 0


def test_no_active_state_keeps_nothing():
    def alone() -> int:
        lines.line_of("lnotab", b"\x00\x01", 7, 0)
        return len(state.current().lines)

    assert contextvars.Context().run(alone) == 0


def test_memoize_is_bounded_and_clearable():
    calls = []

    @memoize(max_bytes=4096)
    def f(x: str) -> str:
        calls.append(x)
        return x

    f("a"), f("a")
    assert calls == ["a"]
    for i in range(100):
        f(str(i) * 100)
    assert f.cache.nbytes <= 4096  # type: ignore[attr-defined]
    f.cache_clear()  # type: ignore[attr-defined]
    f("a")
    assert calls[-1] == "a" and len(calls) == 102
