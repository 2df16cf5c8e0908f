"""The wait-for graph of the tree as an inline SVG, for the HTML report.

Nodes are the threads that wait on another (``analysis.graph.edges``) or that one waits
on, boxed by process, one below the other in tree order; an arrow goes from a waiting
thread to each thread that could end its wait, labelled by how (lock, join, socket...),
the full evidence in its ``<title>`` (a tooltip, no script). The arrows of a deadlock's
cycle (``graph.cycles``) are drawn red and thick, a guessed wait dashed. A big tree draws
at most ``MAX_NODES`` threads: the cycles' first, then their neighbours, then the rest;
it says how many it left out.

Drawn by pooltui, no script, no font, no external reference (not even ``url(#…)``:
arrowheads are polygons), so the page still loads nothing. Every name and word from a
target goes through ``html.e`` (one line, neutralised, escaped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from pooltui.analysis import graph
from pooltui.analysis.edge import Edge, Node, label
from pooltui.model import Certainty, Process, Snapshot
from pooltui.report.text import one_line, tree_rows

Escape = Callable[[object, int], str]  # html.e: one line, neutralised, escaped, at most n characters
MAX_NODES = 48
BOX_W, BOX_H, ROW = 300, 24, 32  # a thread's box, and its row in a process box
PAD, HEAD, GAP_Y = 10, 26, 20  # inside a process box: padding, its title line; between two
BEND, BEND_STEP, BEND_LEVELS = 34, 22, 10  # how far an arrow bends out of the column (a farther one: a step more)
LABEL_ROOM = 90  # beside the widest bend, for its label
NAME_CHARS = 24  # with " · tid 1234567": 38 monospace characters of 12px in BOX_W

CSS = """
svg.wg { max-width:100%; height:auto; font-family:var(--mono); font-size:12px; }
.wg .proc rect { fill:var(--panel); stroke:var(--line); } .wg .proc text { fill:var(--muted); }
.wg .node rect { fill:var(--bg); stroke:var(--warn); stroke-width:1.5; } .wg .node text { fill:var(--fg); }
.wg .node.target rect { stroke:var(--muted); } .wg .node.cycle rect { stroke:var(--err); stroke-width:2.5; }
.wg .arrow path { fill:none; stroke:var(--muted); stroke-width:1.4; } .wg .arrow polygon { fill:var(--muted); }
.wg .arrow.guess path { stroke-dasharray:5 4; }
.wg .arrow.cycle path { stroke:var(--err); stroke-width:2.6; } .wg .arrow.cycle polygon { fill:var(--err); }
.wg .arrow text { fill:var(--fg); paint-order:stroke; stroke:var(--bg); stroke-width:4px; stroke-linejoin:round; }
.wg .arrow.cycle text { fill:var(--err); font-weight:600; }
"""


@dataclass
class Arrow:
    """One waiter -> target pair (several edges between the same two threads: one arrow)."""

    waiter: Node
    target: Node
    vias: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    guess: bool = False
    cycle: bool = False


@dataclass(frozen=True)
class Drawn:
    """What the picture holds: threads by process (tree order), arrows, threads left out."""

    processes: tuple[tuple[Process, tuple[Node, ...]], ...]
    arrows: tuple[Arrow, ...]
    cycle_nodes: frozenset[Node]
    waiting: frozenset[Node]
    left_out: int


def drawn(snapshot: Snapshot, edges: Optional[Sequence[Edge]] = None) -> Drawn:
    found = list(graph.edges(snapshot)) if edges is None else list(edges)
    cycles = graph.cycles(graph.deadlocked(found))
    on_cycle = {pair for c in cycles for pair in zip(c, c[1:] + c[:1])}
    cycle_nodes = frozenset(n for c in cycles for n in c)
    arrows: dict[tuple[Node, Node], Arrow] = {}
    for e in found:
        for t in e.targets:
            if t == e.waiter:
                continue
            a = arrows.setdefault((e.waiter, t), Arrow(e.waiter, t, cycle=(e.waiter, t) in on_cycle))
            if e.via not in a.vias:
                a.vias.append(e.via)
            a.evidence.append(e.evidence)
            a.guess = a.guess or e.certainty is Certainty.GUESS
    order = [(p.pid, t.tid) for _, p in tree_rows(snapshot.processes, snapshot.root_pid) for t in p.threads]  # type: ignore[attr-defined]
    every = {n for pair in arrows for n in pair if snapshot.process(n[0]) is not None}  # (an edge names threads of the tree)
    ranked = [n for n in order if n in every] + sorted(every - set(order))
    chosen = _choose(ranked, cycle_nodes, arrows)
    keep = [a for a in arrows.values() if a.waiter in chosen and a.target in chosen]
    procs: dict[int, list[Node]] = {}
    for n in ranked:
        if n in chosen:
            procs.setdefault(n[0], []).append(n)
    groups = tuple((p, tuple(procs[p.pid])) for p in (snapshot.process(pid) for pid in procs) if p is not None)
    return Drawn(groups, tuple(keep), cycle_nodes, frozenset(a.waiter for a in keep), len(every) - len(chosen))


def _choose(ranked: list[Node], cycle_nodes: frozenset[Node], arrows: dict[tuple[Node, Node], Arrow]) -> set[Node]:
    """At most MAX_NODES threads: the cycles', then those next to a chosen one, then the rest."""
    chosen = set([n for n in ranked if n in cycle_nodes][:MAX_NODES])
    grew = True
    while grew and len(chosen) < MAX_NODES:
        near = {b if a in chosen else a for a, b in arrows if (a in chosen) != (b in chosen)}
        added = [n for n in ranked if n in near][: MAX_NODES - len(chosen)]
        chosen.update(added)
        grew = bool(added)
    chosen.update([n for n in ranked if n not in chosen][: max(0, MAX_NODES - len(chosen))])
    return chosen


def render_svg(snapshot: Snapshot, escape: Escape, edges: Optional[Sequence[Edge]] = None) -> list[str]:
    """The section's SVG (and a line on what was left out); ``escape`` is html's ``e``.

    An arc diagram: the threads one below the other, boxed by process; an arrow down the
    tree bends out to the right, one up to the left, wider the farther it goes, so a
    cycle of two reads as a ring around them."""
    d = drawn(snapshot, edges)
    if not d.arrows:
        return []
    bends = _bends(d.arrows, d.processes)
    room = max([0.0, *bends.values()]) + LABEL_ROOM
    x = room  # the process boxes' left side
    place: dict[Node, float] = {}  # node -> its box's centre y
    parts: list[str] = []
    y = float(GAP_Y) / 2
    for proc, nodes in d.processes:
        h = HEAD + len(nodes) * ROW + PAD / 2
        title = f"pid {proc.pid} · {proc.role_label}"
        parts.append(
            f'<g class="proc"><rect x="{x}" y="{y}" width="{BOX_W + 2 * PAD}" height="{h}" rx="6"/>'
            f'<text x="{x + PAD}" y="{y + 17}">{escape(title, 40)}</text></g>'
        )
        for i, node in enumerate(nodes):
            by = y + HEAD + i * ROW
            place[node] = by + BOX_H / 2
            parts.append(_node(snapshot, proc, node, x + PAD, by, d, escape))
        y += h + GAP_Y
    left, right = x + PAD, x + PAD + BOX_W
    arrows = [_arrow(a, place[a.waiter], place[a.target], left, right, bends[(a.waiter, a.target)], escape) for a in d.arrows]
    width, height = 2 * room + BOX_W + 2 * PAD, y - GAP_Y / 2
    names = f"wait-for graph: {len(place)} threads, {len(d.arrows)} waits"
    svg = [
        f'<svg class="wg" role="img" aria-label="{names}" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}">',
        *parts,
        *arrows,
        "</svg>",
    ]
    if d.left_out:
        svg.append(f'<p class="muted">{d.left_out} more threads wait or are waited on: not drawn (at most {MAX_NODES} are).</p>')
    return svg


def _bends(arrows: Sequence[Arrow], processes: Sequence[tuple[Process, tuple[Node, ...]]]) -> dict[tuple[Node, Node], float]:
    """How far each arrow bends out: the first level on its side that no arrow spanning
    the same rows (or touching them) has taken, shortest arrows and cycles first, so arcs
    nest instead of crossing; at most BEND_LEVELS steps."""
    row = {n: i for i, n in enumerate(n for _, nodes in processes for n in nodes)}
    taken: dict[tuple[bool, int], list[tuple[int, int]]] = {}
    out: dict[tuple[Node, Node], float] = {}
    for a in sorted(arrows, key=lambda a: (abs(row[a.target] - row[a.waiter]), not a.cycle)):
        lo, hi = sorted((row[a.waiter], row[a.target]))
        down = row[a.target] > row[a.waiter]
        level = 0
        while level < BEND_LEVELS and any(lo <= top and low <= hi for low, top in taken.get((down, level), ())):
            level += 1
        taken.setdefault((down, level), []).append((lo, hi))
        out[(a.waiter, a.target)] = BEND + BEND_STEP * level
    return out


def _node(snapshot: Snapshot, proc: Process, node: Node, x: float, y: float, d: Drawn, escape: Escape) -> str:
    t = proc.thread(node[1])
    name = t.label if t is not None else f"thread {node[1]}"
    css = "cycle" if node in d.cycle_nodes else ("" if node in d.waiting else "target")
    wait = t.wait.summary if t is not None and t.wait is not None else "no wait read"
    tip = f"{label(snapshot, node)}: {one_line(wait, 300)}"
    return (
        f'<a href="#pid-{proc.pid}"><g class="node {css}"><title>{escape(tip, 400)}</title>'
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4"/>'
        f'<text x="{x + 8}" y="{y + 16}">{escape(name, NAME_CHARS)} · tid {node[1]}</text></g></a>'
    )


def _arrow(a: Arrow, y1: float, y2: float, left: float, right: float, bend: float, escape: Escape) -> str:
    down = y2 > y1
    side, out = (right, bend) if down else (left, -bend)
    p0, p3 = (side, y1 - 3), (side, y2 + 3)  # out a little above the centre, in a little below: two arrows both ways stay apart
    p1, p2 = (side + out, p0[1]), (side + out, p3[1])
    mid = (side + out * 0.75, (y1 + y2) / 2)
    css = " ".join(c for c, on in (("cycle", a.cycle), ("guess", a.guess)) if on)
    anchor = "start" if down else "end"
    path = f"M{p0[0]:.1f},{p0[1]:.1f} C{p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f} {p3[0]:.1f},{p3[1]:.1f}"
    return (
        f'<g class="arrow {css}"><title>{escape(" | ".join(a.evidence), 1200)}</title><path d="{path}"/>{_head(p2, p3)}'
        f'<text x="{mid[0] + (4 if down else -4):.1f}" y="{mid[1] + 4:.1f}" text-anchor="{anchor}">{escape(", ".join(a.vias), 40)}</text></g>'
    )


def _head(towards: tuple[float, float], tip: tuple[float, float], size: float = 9.0) -> str:
    """An arrowhead at ``tip``, pointing along ``towards`` -> ``tip``."""
    dx, dy = tip[0] - towards[0], tip[1] - towards[1]
    norm = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / norm, dy / norm
    bx, by = tip[0] - ux * size, tip[1] - uy * size
    left, right = (bx - uy * size / 2, by + ux * size / 2), (bx + uy * size / 2, by - ux * size / 2)
    return f'<polygon points="{tip[0]:.1f},{tip[1]:.1f} {left[0]:.1f},{left[1]:.1f} {right[0]:.1f},{right[1]:.1f}"/>'
