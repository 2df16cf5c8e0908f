"""The pictures of the wait-for graph, on recorded deadlocks: the TUI's chain of waits from
one thread (``report.waitchain``, the `w` key) and the HTML report's SVG
(``report.waitgraph``): the cycle drawn and marked, the end of a chain said, big graphs
bounded, and hostile names shown as text, never markup or HTML."""

from __future__ import annotations

import functools
import re

import pytest

from pooltui.analysis import analyze, graph
from pooltui.analysis.edge import Edge
from pooltui.model import Certainty, Kind, Snapshot, replace
from pooltui.report import render
from pooltui.report.html import e
from pooltui.report.waitchain import MAX_THREADS, chain, chain_lines
from pooltui.report.waitgraph import MAX_NODES, render_svg
from tests.conftest import fixture_names, load_fixture, recorded_report
from tests.unit.test_html import assert_self_contained, parse

HOSTILE = "\x1b[31m<script>alert(1)</script>[bold red]boom[/]\n# heading"


def names(prefix: str) -> list:
    found = fixture_names(prefix)
    return found or [pytest.param("none", marks=pytest.mark.skip(reason=f"no {prefix} fixtures recorded"))]


@functools.cache
def analysed(name: str) -> Snapshot:
    return analyze(recorded_report(name).snapshot)


def texts(snapshot: Snapshot, node, width: int = 78) -> list[str]:  # type: ignore[no-untyped-def]
    lines = [line.text for line in chain_lines(chain(snapshot, node), width)]
    assert all(len(t) <= width for t in lines), [t for t in lines if len(t) > width]
    return lines


def abba_threads(name: str) -> tuple[Snapshot, int, int, int]:
    """The snapshot, its pid, and the tids of the two transfer threads (a2b, b2a)."""
    _, truth = load_fixture(name)
    threads = truth["truth"]["threads"]
    return analysed(name), truth["pid"], threads["transfer-a2b"]["tid"], threads["transfer-b2a"]["tid"]


@pytest.mark.parametrize("name", names("abba-py"))
@pytest.mark.parametrize("width", [60, 78, 200])
def test_chain_from_a_deadlocked_thread_goes_round_the_cycle(name, width):
    snap, pid, a2b, b2a = abba_threads(name)
    lines = texts(snap, (pid, a2b), width)
    threads = [t for t in lines if t.startswith(("● ", "↺ "))]  # one chain: every thread at the left edge
    assert [re.search(r"\(pid \d+", t) is not None for t in threads] == [True] * 3
    assert f"{snap.process(pid).thread(a2b).label}'" in threads[0] and threads[0].startswith("● ")
    assert f"{snap.process(pid).thread(b2a).label}'" in threads[1]
    assert threads[2].startswith("↺ ") and f"{snap.process(pid).thread(a2b).label}'" in threads[2]
    assert "deadlock" in " ".join(lines[lines.index(threads[2]) :])
    words = " ".join(lines)
    assert "Bank.audit_lock" in words and "Bank.accounts_lock" in words
    assert words.count("└─▶ lock") == 2


@pytest.mark.parametrize("name", names("abba-py"))
def test_a_thread_behind_the_cycle_branches_into_it_once(name):
    """MainThread joins one of the two (which one is a guess): "any of 2", the cycle drawn
    under the first, the second said to be drawn above."""
    snap, pid, _, _ = abba_threads(name)
    lines = texts(snap, (pid, pid))
    assert lines[0].startswith("● ") and "join (guess)" in lines[1]
    assert any(t.strip() == "any of 2:" for t in lines)
    assert sum("↺ " in t for t in lines) == 1
    assert any(t.rstrip().endswith("drawn above") for t in lines)


@pytest.mark.parametrize("name", names("socket_cycle-"))
def test_chain_across_processes_through_a_socket(name):
    _, truth = load_fixture(name)
    snap, parent, worker = analysed(name), truth["truth"]["parent"], truth["truth"]["worker"]
    text = "\n".join(texts(snap, (worker["pid"], worker["tid"])))
    assert "socket" in text and "pool" in text
    assert f"(pid {parent['pid']}, pool parent)" in text
    assert re.search(rf"↺ .*\(pid {worker['pid']}, pool worker", text)


@pytest.mark.parametrize("name", names("healthy-"))
def test_a_thread_that_waits_on_nobody_says_so_in_one_line(name):
    snap = analysed(name)
    followed = {e.waiter for e in graph.edges(snap)}
    for proc in snap.processes:
        for t in proc.threads:
            if (proc.pid, t.tid) in followed:
                continue
            [line] = texts(snap, (proc.pid, t.tid), 400)
            assert line.startswith("● ") and re.search(r": (running|in a timed wait|idle|waits on nothing|not waiting|a fork ghost)", line), line


def test_the_end_of_a_chain_says_why():
    """tui-pool: the parent waits for any of 3 workers; one runs, one sleeps (timed), one
    waits on the lock the sleeping one holds."""
    snap = analysed("tui-pool-py311")
    parent = next(p for p in snap.processes if p.role == "pool parent")
    text = "\n".join(texts(snap, (parent.pid, parent.pid), 200))
    assert "any of 3:" in text
    assert "running, not waiting: it can act" in text
    assert "in a timed wait, which ends by itself" in text
    assert "drawn above" in text and "↺" not in text


def _ring(snap: Snapshot, n: int) -> list[Edge]:
    """n made-up threads of the root process in one ring: a chain too long to draw."""
    pid = snap.root_pid
    return [Edge((pid, 10**6 + i), ((pid, 10**6 + (i + 1) % n),), "lock", f"thread {i} waits", Certainty.FACT) for i in range(n)]


def test_a_long_chain_is_bounded():
    snap = analysed("tui-pool-py311")
    lines = [line.text for line in chain_lines(chain(snap, (snap.root_pid, 10**6), _ring(snap, 500)))]
    assert sum(t.startswith("● ") for t in lines) == MAX_THREADS
    assert lines[-1].startswith("… ") and "not drawn" in lines[-1]


def _with_hostile_name(snap: Snapshot, pid: int, tid: int) -> Snapshot:
    procs = tuple(
        replace(p, threads=tuple(replace(t, name=HOSTILE) if t.tid == tid else t for t in p.threads)) if p.pid == pid else p for p in snap.processes
    )
    return snap.with_(processes=procs)


@pytest.mark.parametrize("name", names("abba-py3"))
def test_hostile_names_stay_one_line_of_text_in_the_chain(name):
    snap, pid, a2b, b2a = abba_threads(name)
    snap = _with_hostile_name(snap, pid, b2a)
    lines = texts(snap, (pid, a2b), 300)
    joined = "\n".join(lines)
    assert "\x1b" not in joined and "\\x1b[31m<script>alert(1)</script>[bold red]boom[/]\\n# heading" in joined
    assert not any(t.startswith("#") for t in lines)


@pytest.mark.parametrize("name", names("abba-py") + names("socket_cycle-") + names("condition_cycle-") + names("mp_abba-"))
def test_html_draws_the_cycle(name):
    snap = analysed(name)
    [deadlock] = [d for d in snap.diagnoses if d.kind is Kind.DEADLOCK]
    [cycle] = graph.cycles(graph.deadlocked(graph.edges(snap)))
    page = render(snap, "html")
    tags = parse(page)
    assert_self_contained(page, tags)
    starts = [(t, a.get("class", "")) for t, a in tags.starts]
    assert ("svg", "wg") in starts
    assert sum(1 for t, c in starts if t == "g" and "arrow" in c.split() and "cycle" in c.split()) == len(cycle)
    assert sum(1 for t, c in starts if t == "g" and c == "node cycle") == len(cycle)
    section = page[page.index('<section id="waits">') : page.index("</section>", page.index('<section id="waits">'))]
    for pid, tid in cycle:
        assert f"· tid {tid}</text>" in section and f'href="#pid-{pid}"' in section
    stuck = graph.deadlocked(graph.edges(snap))
    labels = re.findall(r'<g class="arrow cycle[^"]*">.*?<text [^>]*>([^<]*)</text></g>', section)
    assert sorted(labels) == sorted(stuck[n].via for n in cycle)  # each cycle arrow labelled by how it waits
    assert set(deadlock.tids) == {tid for _, tid in cycle}


@pytest.mark.parametrize("name", names("healthy-"))
def test_html_without_waits_says_so(name):
    snap = analysed(name)
    page = render(snap, "html")
    if not graph.edges(snap):
        assert "<svg" not in page and "No thread waits on another thread that pooltui could follow." in page


@pytest.mark.parametrize("name", names("abba-py3"))
def test_html_graph_escapes_hostile_names(name):
    snap, pid, _, b2a = abba_threads(name)
    page = render(_with_hostile_name(snap, pid, b2a), "html")
    tags = parse(page)
    assert_self_contained(page, tags)
    section = page[page.index('<section id="waits">') : page.index("</svg>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script" not in section
    assert "[bold red]boom" in section and "\x1b" not in section


def test_html_graph_is_bounded():
    snap = analysed("tui-pool-py311")
    svg = "\n".join(render_svg(snap, e, _ring(snap, 500)))
    assert svg.count('class="node') == MAX_NODES
    assert f"{500 - MAX_NODES} more threads wait or are waited on: not drawn" in svg
