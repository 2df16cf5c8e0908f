"""The chain of waits from one thread, as a small text graph (the TUI's `w` key).

From the selected thread, ``analysis.graph``'s edges are followed: what it waits on (the
edge's words, short), the thread(s) that could end that wait ("any of" several), what
they wait on, ... until a thread that waits on nothing the graph follows (running, in a
timed wait, idle: said so) or a thread already on the path (a cycle, marked; a deadlock
when every thread of it waits only on the others: ``graph.deadlocked``).

Plain Python over the model and the analysis: the graph is computed here, from the
analysed snapshot, and not stored in it, so a report recorded before the graph had an
edge kind still draws with today's (the same pure function the verdicts ran). Every name
and word comes from the target: ``one_line`` cleans them; the UI styles the parts and
never reads markup from them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

from pooltui.analysis import graph
from pooltui.analysis.edge import Edge, Node, label
from pooltui.model import Certainty, Snapshot, WaitKind
from pooltui.report.text import one_line

MAX_THREADS = 40  # threads drawn in one chain; a pool of 64 waiters says "… n more"
WORDS = 200  # characters of an edge's words kept (wrapped to the width, never cut mid-line)
NAME = 90  # characters of a thread's name and place

# where the waiter's own name ends and the words about the others begin (graph's texts)
_CUTS = (", which ", ", whose holder", "; the ", "; which ", "; its other end", " whose lock is held by")


@dataclass(frozen=True)
class Hop:
    """One wait of a thread: ``via`` (lock, join, socket...), its words, and the threads that
    could end it (any of them)."""

    via: str
    words: str
    certainty: Certainty
    targets: tuple[Link, ...]


@dataclass(frozen=True)
class Link:
    """A thread on the chain: its waits (``hops``), or why the chain ends here (``end``),
    or ``back``: "cycle" (a thread on the path to it: drawn once, above) / "seen" (drawn on
    another branch) / "more" (past ``MAX_THREADS``)."""

    node: Node
    name: str
    hops: tuple[Hop, ...] = ()
    end: str = ""
    back: str = ""
    deadlock: bool = False  # in graph.deadlocked: waits only on threads that wait only on each other


@dataclass(frozen=True)
class Line:
    """One line of the text graph: the tree's ``prefix`` (box characters), then ``parts``:
    (text, kind), kind one of thread, via, certainty, words, any, end, cycle, seen, more."""

    prefix: str
    parts: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return self.prefix + "".join(t for t, _ in self.parts)


def short_words(snapshot: Snapshot, edge: Edge) -> str:
    """The edge's evidence without the waiter's name (the line above says it) and without
    the list of the threads it waits on (the lines below draw them)."""
    words = edge.evidence
    own = label(snapshot, edge.waiter)
    if words.startswith(own):
        words = words[len(own) :].lstrip()
    cut = min((i for i in (words.find(c) for c in _CUTS) if i > 0), default=len(words))
    return one_line(words[:cut], WORDS)


def end_of_chain(snapshot: Snapshot, node: Node) -> str:
    """Why a thread ends the chain: it waits on nothing the graph follows."""
    proc = snapshot.process(node[0])
    t = proc.thread(node[1]) if proc is not None else None
    if t is None:
        return "not in this snapshot"
    if t.ghost:
        return "a fork ghost: a thread state copied at fork(), no OS thread runs it"
    wait = t.wait
    if wait is None:
        return "not waiting (no wait read from its stack)"
    summary = one_line(wait.summary, WORDS)
    if wait.kind is WaitKind.RUNNING:
        return "running, not waiting: it can act"
    if t.timed is True or wait.kind is WaitKind.SLEEP:
        return f"in a timed wait, which ends by itself: {summary}"
    if wait.kind is WaitKind.IDLE:
        return summary if summary.startswith("idle") else f"idle: {summary}"
    return f"waits on nothing the wait-for graph follows: {summary}"


def chain(snapshot: Snapshot, start: Node, edges: Optional[Sequence[Edge]] = None) -> Link:
    """The chain of waits from ``start`` (depth first; each thread expanded once)."""
    found = list(graph.edges(snapshot)) if edges is None else list(edges)
    out: dict[Node, list[Edge]] = {}
    for e in found:
        out.setdefault(e.waiter, []).append(e)
    stuck = graph.deadlocked(found)
    drawn: set[Node] = set()

    def walk(node: Node, path: tuple[Node, ...]) -> Link:
        name, deadlock = one_line(label(snapshot, node), NAME), node in stuck
        if node in path:
            return Link(node, name, back="cycle", deadlock=deadlock)
        if node in drawn:
            return Link(node, name, back="seen", deadlock=deadlock)
        if len(drawn) >= MAX_THREADS:
            return Link(node, name, back="more")
        drawn.add(node)
        if node not in out:
            return Link(node, name, end=end_of_chain(snapshot, node), deadlock=deadlock)
        hops = tuple(
            Hop(e.via, short_words(snapshot, e), e.certainty, tuple(walk(t, (*path, node)) for t in e.targets if t != node)) for e in out[node]
        )
        return Link(node, name, hops=hops, deadlock=deadlock)

    return walk(start, ())


def chain_lines(root: Link, width: int = 78) -> list[Line]:
    """``root``'s chain as lines of at most ``width`` columns (words wrapped under their
    branch). A thread with one wait on one thread: the next one right below it, at the same
    indent (a chain reads down the page); several waits or several threads: a branch each."""
    out: list[Line] = []
    _thread(root, "", "", out, width)
    return out


def _thread(link: Link, head: str, rest: str, out: list[Line], width: int) -> None:
    """``head``: the prefix of the thread's own line; ``rest``: of the lines under it."""
    if link.back:
        mark, kind, why = _BACK[link.back]
        if link.back == "cycle" and link.deadlock:
            why = " again: a deadlock (each waits only on the others)"
        _wrapped(out, head, rest + "  ", ((mark, kind), (link.name, kind), (why, kind)), width)
        return
    parts: tuple[tuple[str, str], ...] = (("● ", "thread"), (link.name, "thread"))
    if not link.hops:
        parts += ((": " + link.end, "end"),)
    _wrapped(out, head, rest + "  ", parts, width)
    for i, hop in enumerate(link.hops):
        last = i == len(link.hops) - 1
        single = len(link.hops) == 1 and len(hop.targets) == 1
        arrow, under = ("└─▶ ", "    ") if last else ("├─▶ ", "│   ")
        certainty = () if hop.certainty is Certainty.FACT else ((f" ({hop.certainty.value})", "certainty"),)
        _wrapped(out, rest + arrow, rest + under, ((hop.via, "via"), *certainty, (": ", "via"), (hop.words, "words")), width)
        if single:  # a chain: the next thread right below, at the same indent
            _thread(hop.targets[0], rest, rest, out, width)
            continue
        inner = rest + under
        if len(hop.targets) > 1:
            out.append(Line(inner, ((f"any of {len(hop.targets)}:", "any"),)))
        for j, target in enumerate(hop.targets):
            tlast = j == len(hop.targets) - 1
            if len(hop.targets) == 1:
                _thread(target, inner, inner, out, width)
            else:
                _thread(target, inner + ("└── " if tlast else "├── "), inner + ("    " if tlast else "│   "), out, width)


_BACK = {
    "cycle": ("↺ ", "cycle", " again: a cycle"),
    "seen": ("● ", "seen", ": drawn above"),
    "more": ("… ", "more", f": not drawn (a chain shows {MAX_THREADS} threads)"),
}


def _wrapped(out: list[Line], head: str, rest: str, parts: Iterable[tuple[str, str]], width: int) -> None:
    """Parts on one line after ``head``, wrapped at ``width`` with ``rest`` before each
    continuation; a part's kind stays with its words across the break."""
    room = max(20, width - len(head))
    words = [(w, kind) for text, kind in parts for w in _pieces(text)]
    line: list[tuple[str, str]] = []
    used, first = 0, True
    for w, kind in words:
        if used + len(w.rstrip()) > room and used > 0:
            out.append(Line(head if first else rest, _merge(line)))
            first, line, used = False, [], 0
            room = max(20, width - len(rest))
            w = w.lstrip()
            if not w:
                continue
        for piece in textwrap.wrap(w, room, drop_whitespace=False, break_on_hyphens=False) if len(w) > room else [w]:
            if used + len(piece) > room and used > 0:
                out.append(Line(head if first else rest, _merge(line)))
                first, line, used = False, [], 0
                piece = piece.lstrip()
            line.append((piece, kind))
            used += len(piece)
    if line:
        out.append(Line(head if first else rest, _merge(line)))


def _pieces(text: str) -> list[str]:
    """Words with their trailing space (so a line can break after any of them)."""
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    return [*out, word] if word else out


def _merge(parts: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    merged: list[tuple[str, str]] = []
    for text, kind in parts:
        if merged and merged[-1][1] == kind:
            merged[-1] = (merged[-1][0] + text, kind)
        else:
            merged.append((text, kind))
    if merged:
        merged[-1] = (merged[-1][0].rstrip(), merged[-1][1])
    return tuple(merged)
