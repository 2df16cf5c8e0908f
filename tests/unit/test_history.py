"""analysis.history over captures recorded from the demo scenarios (tests/fixtures): each
sample's diff is computed once, when it is added, and is what the verdicts over time, the
TUI session and a replayed report read.

A series is made from one recording by moving it in time (as tests/unit/test_timeline.py
does): every process and stack in it is a real capture; only time is made up.
"""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze, timeline
from pooltui.analysis.diff import diff_snapshots
from pooltui.analysis.history import HISTORY, LINGER, History
from pooltui.model import dumps, loads, replace
from pooltui.sources import RecordedSource
from pooltui.ui.session import Session
from tests.conftest import fixture_names, load_fixture
from tests.unit.test_timeline import _before_the_kill, later, series, without

VERSIONS = [n.rsplit("-py", 1)[1] for n in fixture_names("killed_worker-")]


def killed(version: str):  # type: ignore[no-untyped-def]
    """(a sample with the victim alive in its task, the recorded one after its death, truth)."""
    raw, truth = load_fixture(f"killed_worker-py{version}")
    s, truth = analyze(raw), truth["truth"]
    return analyze(_before_the_kill(s, truth)), s, truth


def shape(diff):  # type: ignore[no-untyped-def]
    """What a diff says, without the snapshot objects it points at."""
    return (
        sorted(p.key for p in diff.added),
        sorted(p.key for p in diff.removed),
        [(pd.before.key, [(t.tid, t.change) for t in pd.threads]) for pd in diff.kept],
        [(a.key, z.exit_code if z else None) for a, z in diff.departed],
        [(old.key, new.key) for old, new in diff.replacements],
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_each_sample_is_diffed_once_against_the_one_before(version):
    before, after, truth = killed(version)
    samples = [before, after, later(after, 2), later(after, 4)]
    h = History(samples)
    assert list(h) == samples and h.latest is samples[-1] and len(h.diffs) == 3
    for diff, (a, b) in zip(h.diffs, zip(samples, samples[1:])):
        assert diff.before is a and diff.after is b
        assert shape(diff) == shape(diff_snapshots(a, b))
    assert h.last_diff is h.diffs[-1]
    assert [(e.kind, e.pid) for e in h.steps[1].events] == [(e.kind, e.pid) for e in timeline.events_between(before, after)]
    assert ("process_exited", truth["killed_pid"]) in [(e.kind, e.pid) for e in h.steps[1].events]
    assert h.steps[0].events == () and h.steps[2].events == ()  # nothing happened between two identical samples
    # each diff is computed once: a longer history holds the very same objects
    grown = h.then(later(after, 6))
    assert grown.diffs[:3] == h.diffs and all(x is y for x, y in zip(grown.diffs, h.diffs))
    assert len(h) == 4  # immutable: then() made a new history


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bounded_window_and_departed_processes_linger_beyond_it(version):
    """At most ``keep`` samples; a process that left is remembered ``linger`` seconds after
    the sample that saw it gone, however many samples that spans, with how it went."""
    before, after, truth = killed(version)
    h = History([before, after], keep=3)
    gone = h.departed[next(p.key for p in before.processes if p.pid == truth["killed_pid"])]
    assert gone.left == after.created and gone.how == f"replaced by {truth['replacement_pid']}"
    assert gone.process.status != "zombie" and gone.process.threads  # as last seen alive, its last stacks
    for i in range(1, 6):  # 0.5 s apart: 5 samples later it is gone from the window, not from memory
        h = h.then(later(after, 0.5 * i))
    assert len(h) == 3 and before not in list(h)
    assert gone.process.key in h.departed
    h = h.then(later(after, LINGER + 1))
    assert gone.process.key not in h.departed


@pytest.mark.parametrize("version", VERSIONS)
def test_a_zombie_is_departed_only_once_reaped(version):
    before, after, truth = killed(version)
    zombie = replace(before.process(truth["killed_pid"]), status="zombie", threads=(), exit_code=9)
    dead = after.with_(processes=(*after.processes, zombie))
    h = History([before, dead])
    [(alive, ended)] = h.last_diff.departed
    assert alive.pid == zombie.pid and ended.exit_code == 9
    assert zombie.key not in h.departed  # still in the snapshot, with its badge
    h = h.then(later(without(dead, zombie.pid), 1))
    assert h.departed[zombie.key].how == "exited"


@pytest.mark.parametrize("version", VERSIONS)
def test_timeline_reads_the_history_and_settles_the_sample_it_concluded(version):
    before, after, _ = killed(version)
    window = History([before]).then(after)
    concluded = timeline.conclude(window)
    assert concluded == timeline.advance([before], after)  # a History or a list: the same verdicts
    assert any(d.kind == "lost_task" for d in concluded.diagnoses)
    settled = window.settled(concluded)
    assert settled.latest is concluded and settled.last_diff.after is concluded
    assert shape(settled.last_diff) == shape(window.last_diff)
    assert settled.last_diff.new_diagnoses  # what the x key shows compares the concluded verdicts
    with pytest.raises(ValueError):
        window.settled(later(after, 1))  # another capture is another sample


@pytest.mark.parametrize("version", VERSIONS)
def test_a_replayed_report_builds_the_history_the_live_source_had(version):
    """``pooltui snapshot --samples N`` saves the source's history; RecordedSource over the
    saved report rebuilds the same samples, diffs, departed processes and events."""
    before, after, _ = killed(version)
    samples = [before, after, later(after, 2), later(after, 4, {after.root_pid: 0.5})]
    live = History()
    for s in samples:  # as LiveSource.capture does
        window = live.then(s)
        live = window.settled(timeline.conclude(window))
    report = loads(dumps(live.latest, live.as_timeline()))
    replayed = RecordedSource(report.snapshot, report.timeline).history
    assert list(replayed) == list(live) and len(replayed) == len(samples)
    assert [shape(d) for d in replayed.diffs] == [shape(d) for d in live.diffs]
    assert replayed.departed == live.departed
    assert [s.events for s in replayed.steps] == [s.events for s in live.steps]
    assert [s.events for s in replayed] == [s.events for s in live]


def test_a_history_longer_than_the_window_is_judged_over_the_last_samples():
    before, after, _ = killed("3.12")
    samples = [before, *(later(after, i) for i in range(HISTORY + 4))]
    window = History(samples[:-1]).then(samples[-1])
    assert len(window) == HISTORY and list(window) == samples[-HISTORY:]
    assert timeline.conclude(window) == timeline.advance(samples[:-1], samples[-1])


@pytest.mark.parametrize("version", VERSIONS)
def test_the_session_takes_the_sources_history_as_it_is(version):
    """The TUI session does not diff a capture again: it shows the source's diff (CPU between
    refreshes, what left the tree), and builds its own only from a source without one."""
    before, after, truth = killed(version)
    samples = series(before, after)
    source = History([samples[0]])
    session = Session(live=True)
    session.add(samples[0], source)
    assert session.history is source
    source = source.then(samples[1])
    fresh = session.add(samples[1], source)
    assert session.history is source and session.last_diff() is source.last_diff
    assert fresh == list(samples[1].events) and session.lingering()[0].process.pid == truth["killed_pid"]
    alone = Session(live=True)  # a source without a history (a scripted one): the same answers
    alone.add(samples[0])
    assert alone.add(samples[1]) == fresh and shape(alone.last_diff()) == shape(session.last_diff())
    assert [d.process.key for d in alone.lingering()] == [d.process.key for d in session.lingering()]
    newer = later(after, 10)
    other = History([later(after, 9)]).then(newer)  # not the session's history plus this capture: not taken
    alone.add(newer, other)
    assert alone.history is not other and alone.history.steps[-2].snapshot is samples[1] and alone.history.latest is newer


@pytest.mark.parametrize("name", fixture_names())
def test_facts_read_after_prepare_complete_the_same_analysis(name):
    """LiveSource analyses a capture once: ``prepare`` (roles, waits) says which locks and
    pipes to read, and their facts are added to its result before ``finish``, as if they
    had been in the raw capture (neither roles nor waits look at them)."""
    from pooltui.analysis import finish, prepare

    raw, _ = load_fixture(name)
    bare = raw.with_(locks=(), processes=tuple(replace(p, pipes=()) for p in raw.processes))
    prepared = prepare(bare)
    completed = prepared.with_(locks=raw.locks, processes=tuple(replace(p, pipes=q.pipes) for p, q in zip(prepared.processes, raw.processes)))
    assert finish(completed) == analyze(raw)
