"""analysis.timeline and the single-sample hang verdicts (analysis.hangs) over captures
recorded from the demo scenarios (tests/fixtures/<scenario>-py<ver>.json + truth).

A series is made from one recording by moving it in time: the same process again
later (stacks and CPU as recorded, or with CPU added), a worker taken out, a manager
server put in. Every process and stack in it is a real capture; only time is made up.
"""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze, timeline
from pooltui.analysis.hangs import pool_hung
from pooltui.model import Exit, Process, Severity, Snapshot, Thread, replace
from tests.conftest import fixture_names, load_fixture

VERSIONS = [n.rsplit("-py", 1)[1] for n in fixture_names("killed_worker-")]


def later(s: Snapshot, seconds: float, cpu: dict[int, float] | None = None) -> Snapshot:
    """``s`` again ``seconds`` later; ``cpu``: pid -> seconds of CPU its threads gained."""
    cpu = cpu or {}

    def moved(p: Process) -> Process:
        gain = cpu.get(p.pid, 0.0)
        threads = tuple(replace(t, cpu_time=(t.cpu_time or 0.0) + gain) for t in p.threads)
        return replace(p, threads=threads, cpu_time=(p.cpu_time or 0.0) + gain)

    return s.with_(created=s.created + seconds, processes=tuple(moved(p) for p in s.processes))


def without(s: Snapshot, *pids: int) -> Snapshot:
    return s.with_(processes=tuple(p for p in s.processes if p.pid not in pids))


def scenario(name: str, version: str) -> tuple[Snapshot, dict]:
    raw, truth = load_fixture(f"{name}-py{version}")
    return analyze(raw), truth["truth"]


def series(*snapshots: Snapshot) -> list[Snapshot]:
    return list(timeline.replay(snapshots).snapshots)


def kinds(s: Snapshot, severity: Severity | None = None) -> list[str]:
    return [d.kind for d in s.diagnoses if severity is None or d.severity is severity]


def no_locals(s: Snapshot) -> Snapshot:
    def strip(t: Thread) -> Thread:
        return replace(t, frames=tuple(replace(f, locals=None) for f in t.frames))

    return s.with_(processes=tuple(replace(p, threads=tuple(strip(t) for t in p.threads)) for p in s.processes))


# -- single sample -------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_killed_worker_one_sample_is_a_lost_task(version):
    """The replacement idles while the parent waits in map(): with the replacement's
    maxtasks=None read (locals) it is certain; without, a warning that names the doubt."""
    s, truth = scenario("killed_worker", version)
    [d] = [d for d in s.diagnoses if d.kind == "lost_task"]
    assert d.severity is Severity.ERROR and truth["replacement_pid"] in d.pids and s.root_pid == d.pids[0]
    assert "maxtasks=None" in " ".join(d.evidence) and d.fix
    [guess] = [d for d in analyze(no_locals(s)).diagnoses if d.kind == "lost_task"]
    assert guess.severity is Severity.WARNING and "maxtasksperchild" in guess.summary


@pytest.mark.parametrize("version", VERSIONS)
def test_manager_gone_one_sample_with_locals(version):
    s, truth = scenario("manager_gone", version)
    [d] = [d for d in s.diagnoses if d.kind == "manager_gone"]
    assert d.severity is Severity.ERROR
    assert set(truth["worker_pids"]) <= set(d.pids)
    assert "Broken pipe" in " ".join(d.evidence) and "Proxy" in " ".join(d.evidence)
    assert not [d for d in analyze(no_locals(s)).diagnoses if d.kind == "manager_gone"]  # nothing says so without locals


@pytest.mark.parametrize("version", VERSIONS)
def test_every_worker_idle_while_the_parent_waits_is_a_hung_pool(version):
    s, truth = scenario("killed_worker", version)
    idle = s.process(truth["replacement_pid"])
    workers = [s.process(pid) for pid in truth["busy_pids"]]
    as_idle = {p.pid: replace(p, threads=tuple(replace(t, tid=p.pid) for t in idle.threads[:1])) for p in workers}
    hung = s.with_(processes=tuple(as_idle.get(p.pid, p) for p in s.processes))
    [d] = pool_hung(hung)
    assert d.severity is Severity.ERROR and set(truth["worker_pids"]) <= set(d.pids)
    on_cpu = {pid: replace(p, threads=tuple(replace(t, active=True) for t in p.threads)) for pid, p in as_idle.items()}
    busy = hung.with_(processes=tuple(on_cpu.get(p.pid, p) for p in hung.processes))
    assert pool_hung(busy) == []  # a worker on CPU: maybe the instant between two tasks
    # over time: idle workers that gained CPU were between tasks, not hung
    hung = analyze(hung)
    assert "pool_hung" in kinds(series(hung, later(hung, 2))[-1])
    assert "pool_hung" not in kinds(series(hung, later(hung, 2, {pid: 0.3 for pid in as_idle}))[-1])


@pytest.mark.parametrize("name", [n for n in fixture_names("healthy-")])
def test_healthy_pool_never_has_an_error_over_samples(name):
    s, truth = scenario("healthy", name.rsplit("-py", 1)[1])
    busy = {pid: 1.5 for pid in truth["busy_pids"]}
    samples = series(*(later(s, 2 * i, {pid: 1.5 * i for pid in busy}) for i in range(5)))
    for sample in samples:
        assert not kinds(sample, Severity.ERROR), sample.diagnoses
        assert not kinds(sample, Severity.WARNING), sample.diagnoses
    spin = [d for d in samples[-1].diagnoses if d.kind == "busy_spin"]  # one per place the spinners were caught in
    assert all(d.severity is Severity.INFO for d in spin) and {pid for d in spin for pid in d.pids} == set(truth["busy_pids"])


# -- stuck threads -----------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_threads_with_the_same_stack_and_no_cpu_are_stuck_after_three_samples(version):
    s, truth = scenario("dead_holder", version)
    samples = series(s, later(s, 2), later(s, 4))
    assert "stuck_thread" not in kinds(samples[1])
    [stuck] = [d for d in samples[2].diagnoses if d.kind == "stuck_thread"]
    assert set(stuck.pids) == set(truth["waiter_pids"])  # not the waiting parent, not its idle handler threads
    assert stuck.severity is Severity.WARNING and stuck.over_time
    assert "4 s" in stuck.summary and "write_journal" in stuck.summary
    moving = series(s, later(s, 2, {truth["waiter_pids"][0]: 0.5}), later(s, 4, {truth["waiter_pids"][0]: 1.0}))
    [stuck] = [d for d in moving[2].diagnoses if d.kind == "stuck_thread"]
    assert truth["waiter_pids"][0] not in stuck.pids  # it gained CPU


@pytest.mark.parametrize("version", VERSIONS)
def test_a_sleeping_task_is_a_timed_wait_not_stuck(version):
    s, _ = scenario("killed_worker", version)
    assert "stuck_thread" not in kinds(series(s, later(s, 2), later(s, 4))[2])


@pytest.mark.parametrize("name", fixture_names("abba-"))
def test_threads_in_a_deadlock_are_stuck_warnings(name):
    s, _ = scenario("abba", name.rsplit("-py", 1)[1])
    last = series(s, later(s, 2), later(s, 4))[-1]
    stuck = [d for d in last.diagnoses if d.kind == "stuck_thread"]  # one per place: each waits at its own `with` line
    assert all(d.severity is Severity.WARNING for d in stuck) and len({tid for d in stuck for tid in d.tids}) == 2
    assert kinds(last)[0] == "deadlock_cycle"  # most severe first


# -- deaths over time ----------------------------------------------------------------------
def _before_the_kill(s: Snapshot, truth: dict) -> Snapshot:
    """The tree a moment before: the killed worker alive in its task, no replacement yet."""
    model = s.process(truth["busy_pids"][0])
    victim = replace(model, pid=truth["killed_pid"], threads=tuple(replace(t, tid=truth["killed_pid"]) for t in model.threads))
    return without(s, truth["replacement_pid"]).with_(created=s.created - 2, processes=(*without(s, truth["replacement_pid"]).processes, victim))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_worker_dying_mid_task_is_a_lost_task_and_its_events(version):
    s, truth = scenario("killed_worker", version)
    before = analyze(_before_the_kill(s, truth))
    assert "lost_task" not in kinds(before)
    after = series(before, s)[-1]
    events = [(e.kind, e.pid) for e in after.events]
    assert ("process_exited", truth["killed_pid"]) in events and ("worker_replaced", truth["replacement_pid"]) in events
    exited = next(e for e in after.events if e.kind == "process_exited")
    assert "exit status unknown" in exited.detail
    [d] = [d for d in after.diagnoses if d.kind == "lost_task"]
    assert d.severity is Severity.ERROR and truth["killed_pid"] in d.pids and "died while running a task" in d.summary
    assert any("fetch_report" in e for e in d.evidence)
    # seen as a zombie: its exit status is known
    zombie = replace(before.process(truth["killed_pid"]), status="zombie", threads=(), exit_code=9)
    dead = series(before, s.with_(processes=(*s.processes, zombie)))[-1]
    exited = next(e for e in dead.events if e.kind == "process_exited")
    assert "killed by SIGKILL" in exited.detail
    [d] = [d for d in dead.diagnoses if d.kind == "lost_task" and truth["killed_pid"] in d.pids]
    assert any("killed by SIGKILL" in e for e in d.evidence)
    # a clean exit is a retirement (maxtasksperchild), not a loss
    plain = analyze(no_locals(s).with_(processes=(*no_locals(s).processes, replace(zombie, exit_code=0))))
    retired = series(analyze(no_locals(before)), plain)[-1]
    assert not [d for d in retired.diagnoses if d.kind == "lost_task"]


@pytest.mark.parametrize("version", VERSIONS)
def test_workers_keep_their_numbers_and_a_replacement_takes_the_next(version):
    """Analysed after the sample before, no worker is renumbered when one dies: the
    replacement gets the next number (as Pool's ForkPoolWorker-N), never a dead one's."""
    raw, truth = load_fixture(f"killed_worker-py{version}")
    s, truth = analyze(raw), truth["truth"]
    before = analyze(_before_the_kill(s, truth))
    after = analyze(raw, before)
    numbers = lambda snap: {p.pid: p.role_index for p in snap.processes if p.role == "pool worker"}  # noqa: E731
    old, new = numbers(before), numbers(after)
    assert sorted(old.values()) == list(range(1, len(old) + 1))
    assert all(new[pid] == old[pid] for pid in new if pid in old)
    assert new[truth["replacement_pid"]] == max(old.values()) + 1
    assert sorted(numbers(s).values()) == list(range(1, len(old) + 1))  # alone, a sample numbers from 1


@pytest.mark.parametrize("version", VERSIONS)
def test_the_kernels_report_of_an_exit_tells_how_a_reaped_worker_died(version):
    """Reaped before any sample saw it dead: the exit the kernel reported (Snapshot.exits,
    capture.exits) gives its status; a report older than the last sample is not about it."""
    s, truth = scenario("killed_worker", version)
    before = analyze(_before_the_kill(s, truth))
    killed = Exit(pid=truth["killed_pid"], status=9, at=before.created + 1, ppid=s.root_pid)
    after = series(before, s.with_(exits=(killed,)))[-1]
    exited = next(e for e in after.events if e.kind == "process_exited")
    assert exited.pid == killed.pid and "killed by SIGKILL" in exited.detail
    [d] = [d for d in after.diagnoses if d.kind == "lost_task" and killed.pid in d.pids]
    assert d.severity is Severity.ERROR and any("gone at" in e and "killed by SIGKILL" in e for e in d.evidence)
    stale = series(before, s.with_(exits=(replace(killed, at=before.created - 1),)))[-1]
    assert "exit status unknown" in next(e for e in stale.events if e.kind == "process_exited").detail
    # exit code 0 without locals: retired under maxtasksperchild, not a loss
    retired = series(analyze(no_locals(before)), analyze(no_locals(s)).with_(exits=(replace(killed, status=0),)))[-1]
    assert not [d for d in retired.diagnoses if d.kind == "lost_task"]
    # a child that was forked and ended between two samples is in the log, with its status
    brief = Exit(pid=999_999, status=1 << 8, at=before.created + 1, ppid=s.root_pid)
    seen = series(before, s.with_(exits=(killed, brief)))[-1]
    [e] = [e for e in seen.events if e.pid == brief.pid]
    assert e.kind == "process_exited" and "exit code 1" in e.detail and str(s.root_pid) in e.detail


@pytest.mark.parametrize("version", VERSIONS)
def test_a_lost_task_stays_beyond_the_samples_kept(version):
    s, truth = scenario("killed_worker", version)
    before = analyze(_before_the_kill(s, truth))
    samples = series(before, *(later(s, 2 * i) for i in range(timeline.HISTORY + 3)))
    assert all(any(d.kind == "lost_task" and truth["killed_pid"] in d.pids for d in x.diagnoses) for x in samples[1:])


def _with_manager(s: Snapshot, pid: int) -> Snapshot:
    """A Manager server (its main thread in serve_forever) under the root."""
    parent = s.process(s.root_pid)
    main = parent.thread(parent.pid)
    managers_py = main.frames[0].file.replace("threading.py", "multiprocessing/managers.py")
    serve = replace(main.frames[0], function="BaseManager.serve_forever", file=managers_py)
    manager = Process(
        pid=pid,
        ppid=s.root_pid,
        create_time=parent.create_time + 0.01,
        status="sleeping",
        python=parent.python,
        threads=(Thread(tid=pid, ident=1, frames=(serve, *main.frames[-1:])),),
    )
    return s.with_(processes=(*s.processes, manager))


@pytest.mark.parametrize("version", VERSIONS)
def test_manager_gone_keeps_a_client_caught_between_two_tries(version):
    """The sample after names every worker the one before saw using the gone Manager, when
    one of them is read this time with nothing telling (awake between two tries, no look at
    its locals): the same process holds the same proxies. A worker that exited drops out."""
    s, truth = scenario("manager_gone", version)
    first, second = truth["worker_pids"][:2]
    blind = no_locals(s.with_(processes=tuple(p for p in s.processes if p.pid == first)))  # nothing telling in `first`
    caught = s.with_(processes=tuple(blind.processes[0] if p.pid == first else p for p in s.processes))
    alone = analyze(caught)
    [d] = [d for d in alone.diagnoses if d.kind == "manager_gone"]
    assert first not in d.pids  # one sample alone cannot tell
    [d] = [d for d in series(s, later(alone, 1.0))[-1].diagnoses if d.kind == "manager_gone"]
    assert set(truth["worker_pids"]) <= set(d.pids), d.pids
    assert any(e.startswith(f"pid {first}:") and e.endswith("(the sample before)") for e in d.evidence), d.evidence
    assert f"{len(d.pids)} process(es)" in d.summary
    [d] = [d for d in series(s, later(analyze(without(caught, first)), 1.0))[-1].diagnoses if d.kind == "manager_gone"]
    assert first not in d.pids and second in d.pids


@pytest.mark.parametrize("version", VERSIONS)
def test_a_manager_seen_exiting_is_gone(version):
    s, truth = scenario("manager_gone", version)
    plain = no_locals(s)
    alive = analyze(_with_manager(plain, truth["manager_pid"]).with_(created=s.created - 2))
    assert alive.process(truth["manager_pid"]).role == "manager server"
    assert "manager_gone" not in kinds(alive)
    zombie = replace(alive.process(truth["manager_pid"]), status="zombie", threads=(), exit_code=9)
    gone = series(alive, plain.with_(processes=(*plain.processes, zombie)))[-1]
    [d] = [d for d in gone.diagnoses if d.kind == "manager_gone"]
    assert d.severity is Severity.ERROR and "killed by SIGKILL" in d.summary and truth["manager_pid"] in d.pids
    reaped = series(alive, plain)[-1]
    [d] = [d for d in reaped.diagnoses if d.kind == "manager_gone"]
    assert "exit status unknown" in d.summary


# -- events ------------------------------------------------------------------------------
def test_thread_and_role_events():
    s, truth = scenario("killed_worker", "3.12")
    parent = s.process(s.root_pid)
    extra = replace(parent.threads[1], tid=424242, name="late-thread")
    more = replace(parent, threads=(*parent.threads, extra))
    grown = s.with_(created=s.created + 1, processes=tuple(more if p.pid == parent.pid else p for p in s.processes))
    events = timeline.events_between(s, grown)
    assert [(e.kind, e.pid) for e in events] == [("thread_new", parent.pid)] and "'late-thread' (tid 424242) started" in events[0].detail
    assert [e.kind for e in timeline.events_between(grown, s.with_(created=s.created + 2))] == ["thread_gone"]
    worker = s.process(truth["busy_pids"][0])
    renamed = s.with_(created=s.created + 1, processes=tuple(replace(p, role="python") if p.pid == worker.pid else p for p in s.processes))
    [e] = timeline.events_between(s, renamed)
    assert e.kind == "role_changed" and "pool worker #1 → python" in e.detail


def test_a_reaped_zombie_and_a_newcomer():
    s, truth = scenario("killed_worker", "3.12")
    zombie = replace(s.process(truth["busy_pids"][0]), status="zombie", threads=(), exit_code=1 << 8)
    with_zombie = s.with_(processes=tuple(zombie if p.pid == zombie.pid else p for p in s.processes))
    events = timeline.events_between(s, with_zombie.with_(created=s.created + 1))
    assert [(e.kind, e.pid) for e in events] == [("process_exited", zombie.pid)] and "exit code 1" in events[0].detail
    reaped = timeline.events_between(with_zombie, without(s, zombie.pid).with_(created=s.created + 2))
    assert [(e.kind, e.pid) for e in reaped] == [("process_reaped", zombie.pid)]
    back = timeline.events_between(without(s, zombie.pid), s.with_(created=s.created + 3))
    assert [e.kind for e in back] == ["process_new"]


def test_advance_keeps_a_bounded_window_and_is_pure():
    s, _ = scenario("killed_worker", "3.12")
    history: list[Snapshot] = []
    for i in range(timeline.HISTORY + 5):
        history.append(timeline.advance(history, later(s, i)))
    again = timeline.advance(history[:-1], later(s, timeline.HISTORY + 4))
    assert again == history[-1]


OVERSUBSCRIBED = [n.rsplit("-py", 1)[1] for n in fixture_names("oversubscribed-")]


def _queued(s: Snapshot, seconds: float, cpu: float, waited: float | None, pids: list[int], blocked: int = 0) -> Snapshot:
    """``s`` ``seconds`` later, each of ``pids`` having run ``cpu`` seconds more, and waited
    runnable for a CPU ``waited`` seconds in all (None: not read), each thread having blocked
    ``blocked`` times more (voluntary context switches)."""
    then = later(s, seconds, {pid: cpu for pid in pids})

    def queued(p: Process) -> Process:
        threads = tuple(replace(t, blocked=(t.blocked or 0) + blocked) for t in p.threads)
        return replace(p, runq_time=waited if p.pid in pids else None, threads=threads)

    return then.with_(processes=tuple(queued(p) for p in then.processes))


@pytest.mark.parametrize("version", OVERSUBSCRIBED)
def test_spinning_workers_on_a_box_loaded_by_others_still_compete_for_its_cpus(version):
    """On a box whose other jobs take most CPU time, N > CPUs spinning workers get a few
    percent of a CPU each -- yet each wants one all the time (runnable: on a CPU or waiting
    in its run queue, schedstat). The over-time verdict counts what they wanted: it was
    lost at load 60 in a CI run. Workers that neither run nor wait much are no contest, nor
    are workers that sleep often (many voluntary context switches) and wait at each wake-up."""
    s, truth = scenario("oversubscribed", version)
    workers = truth["worker_pids"]
    assert len(workers) > (s.cpu_count or 0)
    start = _queued(s, 0.0, 0.0, 0.0, workers)
    loaded = series(start, _queued(start, 5.0, 0.15, 4.8, workers))
    [d] = [d for d in loaded[-1].diagnoses if d.kind == "oversubscribed"]
    assert d.over_time and set(d.pids) == set(workers) and "waiting for one" in " ".join(d.evidence), d
    asleep = series(start, _queued(start, 5.0, 0.15, 0.1, workers))
    assert not [d for d in asleep[-1].diagnoses if d.kind == "oversubscribed" and d.over_time]
    unknown = series(start, _queued(start, 5.0, 0.15, None, workers))  # an older report: CPU time alone, as before
    assert not [d for d in unknown[-1].diagnoses if d.kind == "oversubscribed" and d.over_time]
    # bursty workers on a loaded box: a long wait for a CPU at each of 100 wake-ups a second
    # is the box's load, not theirs
    bursty = series(start, _queued(start, 5.0, 0.15, 4.8, workers, blocked=500))
    assert not [d for d in bursty[-1].diagnoses if d.kind == "oversubscribed" and d.over_time]
