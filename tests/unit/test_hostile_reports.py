"""Reports against hostile bytes and hostile files (issue 14 items 3, 5, 7, 9, 10).

* a target's bytes that are not UTF-8 (a Latin-1 argv, a comm cut mid-character, a file
  or thread name), kept by surrogateescape, never stop a report: JSON, Markdown and HTML
  are written, show them escaped, and the JSON loads back to the same strings;
* ``-o`` replaces only regular files or new names: /dev/null, a symlink, a FIFO or a
  directory is refused and left as it was; a failed write leaves no temp file behind;
* ``open``/``diff`` read regular files only, checked before any read: /dev/zero or a FIFO
  is refused at once;
* a report whose numbers no capture produces (``created`` NaN, 1e308, -1e18, a pid of
  10**30, an integer of 5000 digits) is refused with one line, never a crash later;
* stdout on a full disk or closed: one line, exit 2.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pooltui.model import MAX_REPORT_BYTES, ReportError, Snapshot, dumps, loads, replace
from pooltui.report import OutputError, load_report, render, save_report, write_atomic
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent.parent / "fixtures"
POOLTUI = [sys.executable, "-m", "pooltui.cli"]
LATIN1 = os.fsdecode(b"r\xe9sum\xe9.csv")  # a Latin-1 file argument: '\udce9' after surrogateescape
CUT = os.fsdecode("worker-ñ".encode()[:-1])  # a 15-byte comm cut mid-character


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """`pooltui ARGS` as a process (what needs its own stdin); ``run_cli`` runs the refusals in this one."""
    return subprocess.run([*POOLTUI, *args], capture_output=True, text=True, timeout=60, **kwargs)


def hostile(snapshot: Snapshot) -> Snapshot:
    """The recorded snapshot with undecodable bytes wherever a target puts its own strings."""
    processes = []
    for p in snapshot.processes:
        threads = tuple(
            replace(t, name=f"{t.name}-{CUT}", frames=tuple(replace(f, file=f"/srv/{LATIN1}/{f.file}", function=f.function + CUT) for f in t.frames))
            for t in p.threads
        )
        processes.append(replace(p, name=CUT, cmdline=(*p.cmdline, LATIN1, os.fsdecode(b"\xff\xfe\x00x")), threads=threads))
    return snapshot.with_(processes=tuple(processes), host=os.fsdecode(b"h\xf6st"))


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return hostile(load_report(FIXTURES / "tui-pool-py311.json").snapshot)


@pytest.mark.parametrize("fmt", ["json", "md", "html"])
def test_non_utf8_bytes_never_stop_a_report(snapshot, tmp_path, fmt):
    path = save_report(tmp_path / f"r.{fmt}", snapshot, fmt)
    data = path.read_bytes()
    text = data.decode("utf-8")  # valid UTF-8, whatever the target's bytes
    assert [p.name for p in tmp_path.iterdir()] == [f"r.{fmt}"]  # no temp file left
    if fmt == "json":
        assert "\\udce9" in text  # a JSON escape, which loads back as the same string
        assert load_report(path).snapshot.processes == snapshot.processes
    else:
        assert "r\\xe9sum\\xe9.csv" in text and "\udce9" not in text


def test_non_utf8_bytes_render_escaped_for_stdout(snapshot):
    for fmt in ("md", "html"):
        out = render(snapshot, fmt)
        out.encode("utf-8")  # never a UnicodeEncodeError
        assert "worker-\\xc3" in out
    assert loads(render(snapshot, "json").encode("utf-8", "backslashreplace").decode()).snapshot.host == snapshot.host


def test_a_failed_write_leaves_no_temp_file_and_the_old_report(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # type: ignore[arg-type]  # fails inside the write, after the temp file exists
    with pytest.raises(OutputError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "r.json", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"] and target.read_text() == "old"


@pytest.fixture
def specials(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    secret = tmp_path / "secret"
    secret.write_text("root's")
    secret.chmod(0o600)
    link.symlink_to(secret)
    folder = tmp_path / "dir.json"
    folder.mkdir()
    return {"/dev/null": Path("/dev/null"), "FIFO": fifo, "symbolic link": link, "directory": folder}


@pytest.mark.parametrize("kind", ["/dev/null", "FIFO", "symbolic link", "directory"])
def test_output_refuses_what_is_not_a_regular_file(snapshot, specials, kind):
    target = specials[kind]
    before = os.lstat(target)
    with pytest.raises(OutputError, match="not a regular file"):
        save_report(target, snapshot, "json")
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_mode, before.st_ino, before.st_size, before.st_mtime_ns)
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []
    if kind == "symbolic link":
        assert (target.parent / "secret").read_text() == "root's"


def test_output_replaces_a_regular_file(snapshot, tmp_path):
    old = tmp_path / "old.json"
    old.write_text("old")
    save_report(old, snapshot, "json")
    assert load_report(old).snapshot.root_pid == snapshot.root_pid and stat.S_IMODE(old.stat().st_mode) == 0o600


@pytest.mark.parametrize("target", ["/dev/null", "FIFO", "symbolic link"])
def test_snapshot_o_refuses_with_one_line(specials, target):
    out = run_cli("snapshot", "1", "-o", str(specials[target]))  # refused before any capture
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and "not a regular file" in out.stderr, out.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("target", ["/dev/zero", "FIFO", "/dev/stdin", "directory"])
@pytest.mark.parametrize("command", ["open", "diff"])
def test_open_and_diff_read_regular_files_only(specials, target, command):
    path = specials.get(target, target)
    args = [command, str(path)] + ([str(FIXTURES / "tui-pool-py311.json")] if command == "diff" else [])
    if target == "/dev/stdin":  # a pipe nobody writes, as the process's own stdin: a read would hang
        out = run(*args, stdin=subprocess.PIPE)
    else:
        out = run_cli(*args)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
    assert "not a report" in out.stderr or "directory" in out.stderr


def test_a_report_over_the_cap_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_REPORT_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ReportError, match="at most 100 MB"):
        load_report(big)


def _fixture_data() -> dict:
    return json.loads((FIXTURES / "tui-pool-py311.json").read_text())


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("NaN", "NaN is not a value"),
        ("Infinity", "Infinity is not a value"),
        ("-Infinity", "-Infinity is not a value"),
        ("1e308", "not a time between 1970 and 9999"),
        ("-1e18", "not a time between 1970 and 9999"),
        ("1" * 5000, "not a pooltui report"),
    ],
)
def test_created_that_no_capture_writes_is_refused(tmp_path, value, words):
    text = json.dumps(_fixture_data())
    created = json.dumps(_fixture_data()["snapshot"]["created"])
    path = tmp_path / "r.json"
    path.write_text(text.replace(f'"created": {created}', f'"created": {value}', 1))
    with pytest.raises(ReportError, match=words):
        load_report(path)
    out = run_cli("open", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr


@pytest.mark.parametrize(("field", "value"), [("root_pid", 10**30), ("root_pid", -1)])
def test_ids_out_of_range_are_refused(field, value):
    data = _fixture_data()
    data["snapshot"][field] = value
    with pytest.raises(ReportError, match="not a process or thread id"):
        loads(json.dumps(data))


def test_a_process_create_time_out_of_range_is_refused():
    data = _fixture_data()
    data["snapshot"]["processes"][0]["create_time"] = 1e300
    with pytest.raises(ReportError, match="create_time"):
        loads(json.dumps(data))


def test_dumps_loads_round_trip_the_fixture():
    snap = load_report(FIXTURES / "tui-pool-py311.json").snapshot
    assert loads(dumps(snap)).snapshot == snap


@pytest.mark.parametrize("redirect", ["full", "closed"])
def test_stdout_full_or_closed_is_one_line_exit_2(tmp_path, redirect):
    report = tmp_path / "r.json"
    report.write_text((FIXTURES / "tui-pool-py311.json").read_text())
    later = tmp_path / "l.json"
    later.write_text((FIXTURES / "tui-pool-py311-later.json").read_text())
    shell = f"{sys.executable} -m pooltui.cli diff {report} {later} --format md " + (">/dev/full" if redirect == "full" else ">&-")
    out = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and "stdout" in out.stderr, out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["attach", "1", "--interval", "nan"],
        ["attach", "1", "--interval", "1e-9"],
        ["attach", "1", "--interval", "inf"],
        ["snapshot", "1", "--interval", "inf", "--samples", "2"],
        ["snapshot", "1", "--timeout", "nan"],
        ["snapshot", "1", "--timeout", "inf"],
        ["snapshot", "1", "--timeout", "-1"],
        ["serve", "1", "--interval", "0"],
        ["doctor", "--timeout", "1e999"],
    ],
)
def test_numbers_out_of_range_are_one_line_exit_2(args):
    out = run_cli(*args)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and "must be between" in out.stderr, out.stderr


def test_a_pid_twice_in_one_snapshot_is_refused():
    data = _fixture_data()
    data["snapshot"]["processes"].append(data["snapshot"]["processes"][1])
    with pytest.raises(ReportError, match="appears twice"):
        loads(json.dumps(data))


@pytest.mark.skipif(not os.path.isfile("/proc/version"), reason="needs /proc")
def test_a_report_into_proc_says_what_went_wrong():
    """Issue 23 item 5: /proc/version is a regular file in a folder that exists; its
    filesystem creates no files. The message says so, not "directory /proc does not exist"."""
    before = Path("/proc/version").read_text()
    with pytest.raises(OutputError) as refused:
        write_atomic("/proc/version", "{}")
    assert "does not exist" not in str(refused.value) and "no new file can be created in /proc" in str(refused.value), refused.value
    assert Path("/proc/version").read_text() == before
