"""Hostile bytes into every parser of what a target or the kernel hands pooltui (issue 14):
/proc status, stat, syscall and maps text, and py-spy's JSON. Each must return a value or
raise its one typed error -- never crash -- and stay bounded: the largest input the
capture lets through (py-spy's output cap) is parsed in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pooltui.capture import procs, pyspyjson, safeopen
from pooltui.capture.errors import PySpyFailed
from pooltui.capture.memory.kernel import _parse_syscall, parse_maps
from pooltui.model import Thread
from tests.conftest import examples

FUZZ = settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that looks like /proc output, with hostile pieces mixed in
NUMBERS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.sampled_from(["", "-", "0x", "1e9", "nan", "9" * 5000]))
WORDS = st.one_of(NUMBERS, st.text(max_size=20), st.sampled_from(["running", ")", "(", ":", "\n", "\t", "\0", "\udcff", "-1"]))
PROCISH = st.lists(WORDS, max_size=40).map(" ".join)
KEYS = st.sampled_from(
    [b"State", b"Uid", b"Gid", b"Groups", b"TracerPid", b"Tgid", b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches", b"Name"]
)
STATUS = st.lists(st.tuples(KEYS, st.binary(max_size=30) | PROCISH.map(lambda s: s.encode("utf-8", "surrogateescape"))), max_size=20).map(
    lambda pairs: b"\n".join(k + b":\t" + v for k, v in pairs)
)


@FUZZ
@given(st.one_of(STATUS, st.binary(max_size=2000)))
def test_status_parsers_never_crash(raw):
    creds = safeopen.parse_creds(raw)
    assert creds is None or all(0 <= n < 2**32 for n in (creds.uid, creds.gid, *creds.groups))
    assert procs.switches(raw) >= 0
    state = procs.status_state(raw)
    assert state is None or isinstance(state, str)
    for key in (b"Tgid", b"TracerPid", b"Uid"):
        value = procs.status_field(raw, key)
        assert value is None or isinstance(value, bytes)


@FUZZ
@given(st.one_of(PROCISH.map(lambda s: s.encode("utf-8", "surrogateescape")), st.binary(max_size=2000)))
def test_stat_parser_never_crashes(raw):
    fields = procs.parse_stat(raw)
    got = procs.task_times(fields)
    assert got is None or (isinstance(got[0], str) and isinstance(got[1], float))


LINES = st.lists(PROCISH.map(lambda s: s.encode("utf-8", "surrogateescape")) | st.binary(max_size=120), max_size=30).map(b"\n".join)


@FUZZ
@given(st.one_of(LINES, st.binary(max_size=2000)))
def test_system_table_parsers_never_crash(raw):
    """net/tcp, net/unix, mounts, locks: any process on the box can shape a line of them (a
    socket's path, a mount point's name), so a malformed line is skipped, never a crash."""
    from pooltui.capture.procfs import tables

    for local, remote, inode in tables.parse_tcp(raw):
        assert isinstance(inode, int) and isinstance(local, str) and isinstance(remote, str)
        assert tables.tcp_address(remote) is None or ":" in tables.tcp_address(remote)  # type: ignore[operator]
    assert all(isinstance(k, int) and isinstance(v, str) for k, v in tables.parse_unix_listeners(raw).items())
    assert all(isinstance(options, dict) for _, _, options in tables.parse_mounts(raw))
    assert all(isinstance(e.inode, int) and isinstance(e.kind, str) and isinstance(e.pid, int) for e in tables.parse_locks(raw))
    tables.proc_mount_options(raw)


@FUZZ
@given(st.one_of(PROCISH, st.text(max_size=500)))
def test_syscall_parser_never_crashes(text):
    call = _parse_syscall(7, text)
    assert call is None or call.tid == 7
    if call is not None:
        call.futex_addr  # noqa: B018 (the derived facts must not crash either)


MAPS_LINE = st.tuples(NUMBERS, NUMBERS, st.sampled_from(["rw-p", "---p", "r-xp", "", "xxxx"]), NUMBERS, NUMBERS, NUMBERS, st.text(max_size=30)).map(
    lambda t: f"{t[0]}-{t[1]} {t[2]} {t[3]} {t[4]}:{t[5]} {t[4]} {t[6]}"
)


@FUZZ
@given(st.one_of(st.lists(MAPS_LINE, max_size=20).map("\n".join), st.text(max_size=2000)))
def test_maps_parser_never_crashes(text):
    for m in parse_maps(text):
        assert isinstance(m.start, int) and isinstance(m.path, str)


JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(), st.text(max_size=20))
JSON = st.recursive(JSON_SCALAR, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)
LOCAL = st.fixed_dictionaries({}, optional={"name": JSON, "repr": JSON, "addr": JSON, "arg": JSON})
FRAME = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON,
        "filename": JSON,
        "short_filename": JSON,
        "line": JSON,
        "module": JSON,
        "locals": st.lists(LOCAL | JSON, max_size=3) | JSON,
    },
)
THREAD = st.fixed_dictionaries(
    {"frames": st.lists(FRAME | JSON, max_size=4)},
    optional={"thread_id": JSON, "os_thread_id": JSON, "thread_name": JSON, "active": JSON, "owns_gil": JSON},
)
DUMP = st.one_of(st.lists(THREAD, max_size=4).map(json.dumps), JSON.map(json.dumps), st.text(max_size=300))


@FUZZ
@given(DUMP)
def test_pyspy_json_parser_gives_threads_or_its_one_error(text):
    try:
        threads = pyspyjson.parse_dump(text, 42)
    except PySpyFailed as exc:
        assert "process 42" in exc.message
        return
    for t in threads:
        assert isinstance(t, Thread) and 0 <= t.tid < 2**64 and 0 <= t.ident < 2**64
        for f in t.frames:
            assert isinstance(f.function, str) and isinstance(f.file, str) and f.line >= 0
            assert all(loc.addr is None or 0 < loc.addr < 2**64 for loc in f.locals or ())


def test_hostile_json_edge_cases_are_clean_errors():
    for text in ("[" * 100000, "[" + "9" * 5000 + "]", '[{"frames": [], "thread_id": ' + "9" * 5000 + "}]", "\udcff", "NaN"):
        try:
            pyspyjson.parse_dump(text, 1)
        except PySpyFailed:
            pass


WORST = """
import json, resource, sys
from pooltui.capture import pyspy, pyspyjson
from pooltui.capture.errors import PySpyFailed
kind = sys.argv[1]
if kind == "objects":  # the most JSON objects that fit under the output cap
    text = "[" + ",".join(["{}"] * (pyspy.MAX_OUTPUT // 3)) + "]"
elif kind == "frames":  # just under the container bound, all frames (refused after json.loads)
    text = '[{"frames": [' + ",".join(["{}"] * (pyspyjson.MAX_CONTAINERS - 10)) + "]}]"
else:  # as many real frames as allowed, parsed into the model
    frame = json.dumps({"name": "f", "filename": "/a.py", "line": 1})
    text = '[{"thread_id": 1, "frames": [' + ",".join([frame] * pyspyjson.MAX_FRAMES) + "]}]"
assert len(text) <= pyspy.MAX_OUTPUT + 2, len(text)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    pyspyjson.parse_dump(text, 1)
    outcome = "parsed"
except PySpyFailed as exc:
    outcome = exc.message
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024, outcome)
"""


@pytest.mark.parametrize("kind", ["objects", "frames", "model"])
def test_the_worst_output_under_the_cap_is_parsed_in_bounded_memory(kind):
    """The output cap (16 MiB) bounds the text; the container and frame bounds bound
    what is built from it. Measured in a fresh process (its peak RSS)."""
    out = subprocess.run([sys.executable, "-c", WORST, kind], capture_output=True, text=True, timeout=300, check=True).stdout
    grown, outcome = out.split(" ", 1)
    assert int(grown) < 400, f"{grown} MiB for {kind}: {outcome}"
    assert ("not read" in outcome) == (kind != "model"), outcome
