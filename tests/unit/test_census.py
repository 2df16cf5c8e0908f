"""`pooltui ps`: trees, roles and the cheap verdicts over a census recorded from live demo
pools and lone processes (scripts/record_census.py), and the rules under them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pooltui.analysis.census import WORKER, trees
from pooltui.capture.census import parse_syscall, wait_of
from pooltui.capture.procfs import parse_unix_listeners
from pooltui.model import census as census_model
from pooltui.model import replace
from pooltui.model.census import (
    WAIT_FUTEX,
    WAIT_PIPE,
    WAIT_POLL,
    WAIT_SHARED_FUTEX,
    WAIT_SOCKET,
    WAIT_TERMINAL,
    WAIT_TIMED,
    Census,
    CensusError,
    ProcFacts,
    census_dumps,
    census_loads,
)
from pooltui.report.census import cells, render_json, render_text
from tests.conftest import FIXTURES, examples

ALL_WAITS = {value for name, value in vars(census_model).items() if name.startswith("WAIT_")}


@pytest.fixture(scope="module")
def box() -> tuple[Census, dict]:
    census = census_loads((FIXTURES / "census" / "box.json").read_bytes())
    truth = json.loads((FIXTURES / "census" / "box.truth.json").read_text())
    return census, truth


def _row(census: Census, root: int):  # type: ignore[no-untyped-def]
    return next(t for t in trees(census) if t.root_pid == root)


def test_each_started_tree_is_one_row_at_its_root_pid_hung_ones_marked(box):
    census, truth = box
    rows = {t.root_pid: t for t in trees(census)}
    for pid, said in truth.items():
        row = rows[int(pid)]
        assert row.hung is said["hung"], (said["name"], said["python"], row.verdicts)
        assert set(said["verdicts"]) <= {v.kind for v in row.verdicts}, (said["name"], row.verdicts)
        if not said["verdicts"]:
            assert not row.verdicts, (said["name"], row.verdicts)
        assert row.python == said["python"]


def test_no_process_is_left_out_or_listed_twice(box):
    census, _ = box
    listed = [pid for t in trees(census) for pid in t.pids]
    assert sorted(listed) == sorted(p.pid for p in census.processes)


FRAMEWORK_WORKERS = {
    "gunicorn_stuck": "gunicorn worker",
    "celery_hang": "celery pool worker",
    "uwsgi_stuck": "uwsgi worker",
    "joblib_stuck": "loky worker",
}


def test_workers_are_counted_under_their_root(box):
    census, truth = box
    for pid, said in truth.items():
        workers = said["truth"].get("worker_pids")
        if not workers:
            continue
        row = _row(census, int(pid))
        assert set(workers) <= set(row.pids), said["name"]
        counts = {r.role: r.count for r in row.roles}
        named = FRAMEWORK_WORKERS.get(said["name"], WORKER)  # a framework's workers by its own name
        assert counts.get(named) == len(workers), (said["name"], row.roles)
        if said["name"] == "executor":  # forkserver children: workers, not more forkservers
            assert counts.get("forkserver") == 1 and counts.get("resource tracker") == 1


def test_workers_that_ran_unmark_a_hung_pool(box):
    """The verdict rests on "no worker ran": with one worker switched in and out (not in a
    timed wait) the other two still wait on their lock and are named; with all three, the
    pool no longer looks hung."""
    census, truth = box
    pid = next(int(p) for p, s in truth.items() if s["name"] == "logging_fork" and s["python"] == "3.11")
    workers = truth[str(pid)]["truth"]["worker_pids"]

    def woke(which: list[int]) -> Census:
        def ran(p: ProcFacts) -> ProcFacts:
            return replace(p, tasks=tuple(replace(t, switches_after=t.switches + 5) for t in p.tasks)) if p.pid in which else p

        return replace(census, processes=tuple(ran(p) for p in census.processes))

    assert _row(census, pid).hung
    one = _row(woke(workers[:1]), pid)
    assert one.hung and one.verdict is not None
    assert str(workers[0]) not in one.verdict.text and all(str(w) in one.verdict.text for w in workers[1:])
    assert not _row(woke(workers), pid).hung


def test_a_main_thread_in_a_timed_wait_is_not_hung(box):
    census, truth = box
    pid = next(int(p) for p, s in truth.items() if s["name"] == "plain_reentry")

    def timed(p: ProcFacts) -> ProcFacts:
        return replace(p, tasks=tuple(replace(t, wait=WAIT_TIMED) if t.tid == p.pid else t for t in p.tasks)) if p.pid == pid else p

    assert _row(census, pid).hung
    assert not _row(replace(census, processes=tuple(timed(p) for p in census.processes)), pid).hung


def test_an_unreadable_process_is_a_row_with_why():
    census = Census(
        schema="pooltui.census/1",
        taken=1000.0,
        host="h",
        window=0.25,
        cpus=2,
        processes=(ProcFacts(pid=77, ppid=1, create_time=990.0, comm="python3", error="permission", error_message="cannot read ..."),),
        unchecked=3,
        vanished=1,
    )
    (row,) = trees(census)
    assert (row.root_pid, row.state, row.error) == (77, "unreadable", "permission")
    data = json.loads(render_json([row], census))
    assert data["trees"][0]["error"] == {"code": "permission", "message": "cannot read ..."}
    assert (data["unchecked"], data["vanished"]) == (3, 1)
    text = render_text([row], census)
    assert "cannot read ..." in text and "3 processes not checked for Python" in text and "1 process exited" in text


def test_json_shape(box):
    census, _ = box
    data = json.loads(render_json(trees(census), census))
    assert data["schema"] == "pooltui.ps/1"
    assert {"taken", "host", "cpus", "window_seconds", "basis", "trees", "vanished", "unchecked", "notes"} <= data.keys()
    for tree in data["trees"]:
        assert set(tree) == {"root_pid", "program", "python", "pids", "roles", "state", "cpu_percent", "age_seconds", "hung", "verdicts", "error"}
        assert tree["root_pid"] in tree["pids"]
        assert all(set(r) == {"role", "count"} for r in tree["roles"])


def test_hostile_argv_is_escaped_on_one_line():
    hostile = ProcFacts(
        pid=5, ppid=1, create_time=1.0, comm="x", exe="/usr/bin/python3.11", python="3.11", cmdline=("python3.11", "\x1b[31mevil\nrow\u202e.py")
    )
    census = Census(schema="pooltui.census/1", taken=2.0, host="h\x1b]0;t\x07", window=0.25, cpus=1, processes=(hostile,))
    rows = trees(census)
    text = render_text(rows, census)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert len(text.split("\n\n")[0].splitlines()) == 2  # the header and the tree's one line
    assert all("\n" not in c for c in cells(rows[0]))
    assert "\x1b" not in render_json(rows, census)


@pytest.mark.parametrize(
    "line, target, wait",
    [
        (b"202 0x55fc 0x189 0x0 0x0 0x0 0xffffffff 0x7ffc 0x7f44", "", WAIT_FUTEX),  # lock.acquire()
        (b"202 0x55fc 0x189 0x0 0x7ffc10 0x0 0xffffffff 0x7ffc 0x7f44", "", WAIT_TIMED),  # acquire(timeout=1)
        (b"202 0x7fdf6059f000 0x109 0x0 0x0 0x0 0xffffffff 0x7ffc 0x7f44", "", WAIT_SHARED_FUTEX),  # a multiprocessing.Lock
        (b"0 0x9 0x7f44 0x4 0x0 0x0 0x0 0x7f 0x7f", "pipe:[1234]", WAIT_PIPE),
        (b"45 0x9 0x7f44 0x4 0x0 0x0 0x0 0x7f 0x7f", "socket:[99]", WAIT_SOCKET),
        (b"0 0x0 0x7f44 0x400 0x0 0x0 0x0 0x7f 0x7f", "/dev/pts/3", WAIT_TERMINAL),
        (b"7 0x7f44 0x6 0xffffffff 0x6 0x0 0x0 0x7f 0x7f", "", WAIT_POLL),  # poll(..., -1)
        (b"7 0x7f44 0x6 0x64 0x6 0x0 0x0 0x7f 0x7f", "", WAIT_TIMED),  # poll(..., 100)
        (b"270 0x4 0x7f 0x0 0x0 0x7f10 0x0 0x7f 0x7f", "", WAIT_TIMED),  # pselect6 with a timespec
        (b"230 0x1 0x0 0x7f 0x7f 0x0 0x0 0x7f 0x7f", "", WAIT_TIMED),  # clock_nanosleep
    ],
)
def test_what_a_thread_asleep_in_a_system_call_waits_for(line, target, wait):
    call = parse_syscall(line)
    assert call is not None
    assert wait_of(*call, target) == wait


@pytest.mark.parametrize("line", [b"running", b"", b"-1 0x7ffc 0x7f44", b"202 zz", b"202 0x1 0x2"])
def test_a_syscall_line_that_says_nothing_is_none(line):
    assert parse_syscall(line) is None


def test_census_round_trips_and_garbage_is_refused(box):
    census, _ = box
    assert census_loads(census_dumps(census)) == census
    for bad in (b"{", b"[]", b'{"schema": "pooltui.census/9", "taken": 1, "host": "", "window": 1, "cpus": 1}', b'{"schema": 1}'):
        with pytest.raises(CensusError):
            census_loads(bad)


@pytest.mark.parametrize(
    "wait, hung",
    [(WAIT_FUTEX, True), (WAIT_SHARED_FUTEX, False), (WAIT_PIPE, False), (WAIT_TIMED, False)],
    ids=["private-lock", "shared-lock", "pipe", "sleep"],
)
def test_a_lone_thread_looks_hung_only_on_a_lock_nobody_else_can_release(box, wait, hung):
    """One thread in a futex wait private to its process: no other thread exists to wake it.
    A multiprocessing lock (shared futex) or a pipe can be released from another process."""
    census, truth = box
    pid = next(int(p) for p, s in truth.items() if s["name"] == "sleeper")

    def waiting(p: ProcFacts) -> ProcFacts:
        return replace(p, tasks=tuple(replace(t, wait=wait, wait_before=wait) for t in p.tasks)) if p.pid == pid else p

    assert not _row(census, pid).hung
    assert _row(replace(census, processes=tuple(waiting(p) for p in census.processes)), pid).hung is hung


def test_a_manager_server_is_named_from_where_it_listens_and_is_no_worker(box):
    census, truth = box
    pid = next(int(p) for p, s in truth.items() if s["name"] == "manager_lock")
    row = _row(census, pid)
    counts = {r.role: r.count for r in row.roles}
    assert counts.get("manager server") == 1, row.roles
    assert truth[str(pid)]["truth"]["manager_pid"] in row.pids
    assert counts.get(WORKER) == len(truth[str(pid)]["truth"]["worker_pids"]), row.roles


def test_listening_unix_sockets_are_read_from_the_kernels_table():
    table = (
        b"Num       RefCount Protocol Flags    Type St Inode Path\n"
        b"0000000000000000: 00000002 00000000 00010000 0001 01 4242 /tmp/pymp-ab c/listener-x\n"  # listening
        b"0000000000000000: 00000003 00000000 00000000 0001 03 4343 /tmp/pymp-abc/listener-x\n"  # a connection
        b"0000000000000000: 00000002 00000000 00010000 0001 01 4444\n"  # unnamed
        b"garbage line\n"
    )
    assert parse_unix_listeners(table) == {4242: "/tmp/pymp-ab c/listener-x"}


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=300))
def test_kernel_text_parsers_never_raise(raw):
    call = parse_syscall(raw)
    if call is not None:
        assert wait_of(*call, "") in ALL_WAITS
    parse_unix_listeners(raw)


def test_a_refused_pool_is_one_row_not_one_per_worker():
    """Another user's pool, read as non-root: parent and workers refused alike, one command line."""
    from pooltui.capture.census import _joins

    argv = ("python3", "app.py")
    refused = {"error": "permission", "error_message": "cannot read the executable of process 10: Permission denied", "cmdline": argv}
    parent = ProcFacts(pid=10, ppid=1, create_time=1.0, comm="python3", **refused)
    kids = [ProcFacts(pid=pid, ppid=10, create_time=2.0, comm="python3", **refused) for pid in (11, 12)]
    readable = ProcFacts(pid=13, ppid=10, create_time=2.0, exe="/usr/bin/python3.11", python="3.11", cmdline=argv)
    assert all(_joins(parent, kid) for kid in kids) and not _joins(parent, readable)
    flagged = tuple(replace(k, joins_parent=True) for k in kids)
    census = Census(schema="pooltui.census/1", taken=5.0, host="h", window=0.25, cpus=2, processes=(parent, *flagged, readable))
    rows = {t.root_pid: t for t in trees(census)}
    assert set(rows) == {10, 13}
    assert rows[10].pids == (10, 11, 12) and rows[10].state == "unreadable" and "and 2 processes of its tree" in rows[10].error_message


def test_a_proc_that_hides_other_users_is_said():
    from pooltui.capture.census import hidden_note

    hiding = b"sysfs /sys sysfs rw 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime,hidepid=invisible 0 0\n"
    assert "hidepid" in hidden_note(hiding, euid=1000)
    assert hidden_note(hiding.replace(b"invisible", b"2"), euid=1000)
    assert not hidden_note(hiding, euid=0)  # root sees through it
    assert not hidden_note(b"proc /proc proc rw,relatime 0 0\n", euid=1000)
    census = Census(schema="pooltui.census/1", taken=1.0, host="h", window=0.25, cpus=1, notes=(hidden_note(hiding, 1000),))
    assert "hidepid" in render_text([], census) and json.loads(render_json([], census))["notes"]


@pytest.mark.parametrize("name", ["gunicorn_stuck", "celery_hang", "uwsgi_stuck"])
def test_a_servers_stuck_worker_is_named_and_its_idle_ones_are_not(box, name):
    """The master keeps ticking, so the tree never stands still: the worker stuck on a lock is
    what looks hung, by its pid; the idle workers (waiting for a request) are not named."""
    census, truth = box
    found = [(int(p), s["truth"]) for p, s in truth.items() if s["name"] == name]
    if not found:
        pytest.skip(f"{name} was not recorded (its framework was not installed)")
    pid, said = found[0]
    row = _row(census, pid)
    stuck = set(said["worker_pids"]) - set(said["idle_pids"])
    assert row.hung and row.verdict is not None and row.verdict.kind == "looks_hung"
    assert all(str(p) in row.verdict.text for p in stuck)
    assert not any(str(p) in row.verdict.text for p in said["idle_pids"])
