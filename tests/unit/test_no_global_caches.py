"""No cache in ``pooltui.capture`` is a module global: what the capture keeps belongs to
the ``CaptureState`` a source owns (pooltui.capture.state), bounded in bytes, and a value
read from one process is never served for another through a global a sibling filled.

Read from the source: a module-level name bound to a dict, set, list or similar that the
module then changes (item assignment, ``add``/``setdefault``/``update``/``clear``/...,
a ``global`` rebinding) is a cache with no owner."""

from __future__ import annotations

import ast
from pathlib import Path

import pooltui.capture

CAPTURE = Path(pooltui.capture.__file__).parent
MUTATORS = {"add", "append", "clear", "discard", "extend", "insert", "pop", "popitem", "remove", "setdefault", "update", "move_to_end"}
CONTAINERS = (ast.Dict, ast.Set, ast.List, ast.DictComp, ast.SetComp, ast.ListComp)
CONTAINER_CALLS = {"dict", "set", "list", "OrderedDict", "defaultdict", "deque", "WeakValueDictionary", "WeakKeyDictionary"}
# not caches of anything read from a target: resources made once on first use (the capture's
# worker thread, the one netlink listener for process exits) and facts about this host's
# kernel and C library (whether it has openat2; libc loaded once)
ALLOWED = {("worker.py", "_EXECUTOR"), ("exits.py", "_WATCHER"), ("safeopen.py", "_OPENAT2"), ("safeopen.py", "_PROBED"), ("safeopen.py", "_LIBC")}


def _mutable_globals(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        targets, value = [], None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        called = value.func.id if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) else None
        if isinstance(value, CONTAINERS) or called in CONTAINER_CALLS:
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _changed(tree: ast.Module, names: set[str]) -> set[str]:
    changed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and isinstance(node.value, ast.Name):
            changed.add(node.value.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            changed |= {node.func.value.id} if isinstance(node.func.value, ast.Name) else set()
    globals_rebound = {name for n in ast.walk(tree) if isinstance(n, ast.Global) for name in n.names}
    return changed & names | globals_rebound


def test_no_module_level_cache_in_capture():
    found = []
    for path in sorted(CAPTURE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for name in sorted(_changed(tree, _mutable_globals(tree))):
            if (path.name, name) not in ALLOWED:
                found.append(f"{path.relative_to(CAPTURE)}: {name}")
    assert found == []


def test_the_check_finds_a_cache():
    tree = ast.parse("_SEEN: dict = {}\ndef f(k):\n    _SEEN[k] = 1\nTABLE = {1: 2}\n")
    assert _changed(tree, _mutable_globals(tree)) == {"_SEEN"}
