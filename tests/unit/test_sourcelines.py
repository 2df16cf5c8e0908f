"""Source lines are read with the target's rights only (capture.safeopen) and masked like
locals (capture.redact.scrub_code). These read files of this test's own process through
its own /proc/PID/root, as root and as ``nobody`` (the credential switch needs root);
the unprivileged-target case lives in tests/live/test_hostile_sources.py."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from pooltui.analysis import analyze
from pooltui.capture import safeopen, sourcelines, state
from pooltui.capture.redact import REDACTED, scrub_code
from pooltui.model import Frame, Process, Snapshot, Thread

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="taking another user's rights needs root")


def nobody() -> safeopen.Creds:
    entry = pwd.getpwnam("nobody")
    return safeopen.Creds(entry.pw_uid, entry.pw_gid, (entry.pw_gid,))


def me() -> safeopen.Creds:
    creds = safeopen.creds_of(os.getpid())
    assert creds is not None
    return creds


@pytest.fixture
def tree():
    tmp_path = Path(tempfile.mkdtemp(prefix="pooltui-src-"))  # not under /tmp/pytest-of-root (0700): nobody must reach it
    tmp_path.chmod(0o755)
    (tmp_path / "ok.py").write_text("first\n    second = 2\n")
    (tmp_path / "ok.py").chmod(0o644)
    (tmp_path / "private.py").write_text("ROOT_ONLY\n")
    (tmp_path / "private.py").chmod(0o600)
    os.symlink(tmp_path / "ok.py", tmp_path / "link.py")
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "big.py").write_bytes(b"x\n" * (safeopen.MAX_FILE_BYTES // 2 + 1))
    (tmp_path / "sub").mkdir()
    yield tmp_path
    shutil.rmtree(tmp_path)


def read(tree, creds, *names):
    paths = [str(tree / n) for n in names]
    return dict(zip(names, (safeopen.read_files(os.getpid(), creds, paths, timeout=10)[p] for p in paths)))


def test_regular_file_is_read_fifo_device_directory_and_big_file_are_not(tree):
    got = read(tree, me(), "ok.py", "fifo.py", "big.py", "sub")
    assert isinstance(got["ok.py"], safeopen.Read) and got["ok.py"].data == b"first\n    second = 2\n"
    assert got["fifo.py"] == "it is a FIFO, not a regular file"  # and it returned: a FIFO never blocks
    assert got["big.py"] == "it is larger than 4 MiB"
    assert got["sub"] == "it is a directory, not a regular file"
    dev = safeopen.read_files(os.getpid(), me(), ["/dev/zero"], timeout=10)["/dev/zero"]
    assert dev == "it is a character device, not a regular file"


@needs_root
def test_another_users_rights_are_the_kernels_decision(tree):
    got = read(tree, nobody(), "ok.py", "private.py", "link.py")
    assert isinstance(got["ok.py"], safeopen.Read)
    assert got["private.py"] == "the target's user may not read it"
    assert isinstance(got["link.py"], safeopen.Read)  # a symlink inside the root, to a file it may read
    environ = f"{tree}/sub" + "/.." * (str(tree).count("/") + 1) + "/proc/self/environ"
    assert safeopen.read_files(os.getpid(), nobody(), [environ], timeout=10)[environ] == "the target's user may not read it"


@needs_root
def test_the_reader_thread_changes_no_other_threads_rights(tree):
    read(tree, nobody(), "private.py")
    assert (tree / "private.py").read_text() == "ROOT_ONLY\n"  # this thread is still root
    assert safeopen.creds_of(os.getpid()) == me()


def test_without_openat2_no_symlink_and_no_dotdot_is_followed(tree, monkeypatch):
    monkeypatch.setattr(safeopen, "_OPENAT2", False)
    got = read(tree, me(), "ok.py", "link.py", "fifo.py")
    assert isinstance(got["ok.py"], safeopen.Read)
    assert got["link.py"] == "it is a symbolic link, not a regular file"
    assert got["fifo.py"] == "it is a FIFO, not a regular file"
    dotdot = f"{tree}/sub/../ok.py"
    assert "'..'" in safeopen.read_files(os.getpid(), me(), [dotdot], timeout=10)[dotdot]


def test_paths_with_nul_or_garbage_are_refused_not_crashed():
    got = safeopen.read_files(os.getpid(), me(), ["/etc/pass\0wd", "/" + "a" * 5000, "/no/such/file.py"], timeout=10)
    assert got["/etc/pass\0wd"] == "its path holds a NUL byte"
    assert got["/" + "a" * 5000] == "its path is too long"
    assert got["/no/such/file.py"] == "no such file in the target's root"


@pytest.mark.parametrize(
    "status",
    [b"", b"Uid:\t0\t0\n", b"Uid:\tx\ty\tz\tw\nGid:\t1\t1\t1\t1\n", b"Uid:\t-1\t-1\t-1\t-1\nGid:\t0\t0\t0\t0\n", b"\xff" * 100],
)
def test_malformed_status_gives_no_creds(status):
    assert safeopen.parse_creds(status) is None


def test_status_creds_are_the_fs_ids_and_groups():
    status = b"Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nGroups:\t10 11 \n"
    assert safeopen.parse_creds(status) == safeopen.Creds(4, 8, (10, 11))


def test_frames_get_code_redacted_or_a_note(tmp_path):
    tmp_path.chmod(0o755)
    src = tmp_path / "app.py"
    src.write_text('password = "hunter2"\nwith lock:\n')
    os.mkfifo(tmp_path / "fifo.py")
    frames = (
        Frame("f", str(src), 1),
        Frame("g", str(src), 2),
        Frame("h", str(tmp_path / "fifo.py"), 1),
        Frame("<module>", "<string>", 1),
    )
    out = sourcelines.with_code(frames, os.getpid(), {})
    assert out[0].code == f"password = {REDACTED}"
    assert out[1].code == "with lock:"
    assert out[2].code is None and out[2].code_note == "source not read: it is a FIFO, not a regular file"
    assert out[3] == frames[3]
    plain = sourcelines.with_code(frames[:1], os.getpid(), {}, redact_secrets=False)
    assert plain[0].code == 'password = "hunter2"'


def test_the_wait_headline_never_shows_a_secret_on_the_waiting_line(tmp_path):
    tmp_path.chmod(0o755)
    src = tmp_path / "app.py"
    src.write_text('conn = db.connect(host, password="hunter2").acquire()\n')
    frames = sourcelines.with_code((Frame("run", str(src), 1, short_file="app.py"),), os.getpid(), {})
    proc = Process(pid=10, ppid=1, create_time=1.0, python="3.12", threads=(Thread(tid=10, ident=1, frames=frames),))
    analysed = analyze(Snapshot(created=1.0, host="h", root_pid=10, processes=(proc,)))
    wait = analysed.processes[0].threads[0].wait
    assert wait is not None and "hunter2" not in wait.summary and REDACTED in wait.summary


@pytest.mark.parametrize(
    "line, leaked",
    [
        ('password = "hunter2"', "hunter2"),
        ('if token == "abc123":', "abc123"),
        ('api_key: str = "k-123"', "k-123"),
        ('login(user, password, "s3cr3t")', "s3cr3t"),
        ('headers = {"Authorization": f"Bearer {tok}"}', "Bearer"),
        ('conn = connect("postgres://u:pw0rd@h/db")', "pw0rd"),
        ("secret = b'abc", "abc"),
        ('cfg["api_key"] = "K9"', "K9"),
        ("PASSWD = '''multi", "multi"),
    ],
)
def test_secret_literals_on_source_lines_are_masked(line, leaked):
    assert leaked not in scrub_code(line)


@pytest.mark.parametrize("line", ["with self.lock:", 'log.info("hello %s", name)', "time.sleep(5)", "ev.wait(timeout=30)"])
def test_plain_source_lines_are_kept(line):
    assert scrub_code(line) == line


def test_reports_say_why_a_source_line_is_missing():
    from pooltui.report import html, markdown

    frame = Frame("f", "/srv/fifo.py", 1, short_file="fifo.py", code_note="source not read: it is a FIFO, not a regular file")
    thread = Thread(tid=1, ident=1, frames=(frame,))
    assert "(source not read: it is a FIFO, not a regular file)" in markdown.stack_lines(thread)[0]
    assert "source not read: it is a FIFO" in html._frame(frame, 0, thread)


def test_a_holders_evidence_line_is_masked_too():
    from pooltui.capture import holders

    lines = ['with connect(password="hunter2") as db, LOCK:', "    db.run()", "    wait_here()"]
    text = holders._evidence(lines, Frame("f", "/srv/app.py", 3, short_file="app.py"), "LOCK")
    assert text is not None and "hunter2" not in text and "LOCK" in text


def test_a_read_that_hangs_is_abandoned_at_the_deadline_and_not_retried(tree, monkeypatch):
    """A file on a stuck FUSE or NFS mount: the read never returns. Simulated by a reader
    that blocks on an Event; the caller goes on at the deadline, and later captures skip
    the path instead of stacking up stuck threads."""
    import threading

    release = threading.Event()
    real = safeopen._read_one

    def stuck(root, path, known):  # type: ignore[no-untyped-def]
        if path.endswith("ok.py"):
            release.wait(30)
        return real(root, path, known)

    monkeypatch.setattr(safeopen, "_read_one", stuck)
    monkeypatch.setattr(sourcelines, "SOURCE_TIMEOUT", 0.5)
    frames = (Frame("f", str(tree / "ok.py"), 1),)
    try:
        with state.active(state.CaptureState()) as kept:  # what a source keeps from one capture to the next
            first = sourcelines.with_code(frames, os.getpid(), {})
            assert first[0].code is None and first[0].code_note == "source not read: reading it took longer than 0.5 s"
            again = sourcelines.with_code(frames, os.getpid(), {})
            assert again[0].code_note == "source not read: reading it took longer than 0.5 s before"
        assert len(kept.hung) == 1
    finally:
        release.set()


def test_a_slow_read_that_keeps_answering_is_waited_for_a_stalled_one_is_not():
    """The deadline is for a stall: on a busy box each file answers late but the reader
    goes on, and every answer is kept (a whole deadline lost every source line at load 10,
    and with them every verdict resting on a ``with`` line). No clock: a reader stand-in
    answers one path per wait, three times, then stalls."""

    class Reader:
        def __init__(self, out, answers):
            self.out, self.answers, self.waits = out, answers, 0

        def is_alive(self):
            return True

        def join(self, timeout):
            self.waits += 1
            if self.answers:
                self.out[self.answers.pop()] = ""

    out: dict[str, str] = {}
    reader = Reader(out, ["c", "b", "a"])
    safeopen.wait_while_answering(reader, out, 2.0)  # type: ignore[arg-type]
    assert sorted(out) == ["a", "b", "c"] and reader.waits == 4  # the fourth wait saw no answer: given up


@pytest.mark.parametrize("err", [38, 1])  # ENOSYS (Linux < 5.6), EPERM (a seccomp filter that does not know openat2)
def test_an_openat2_the_kernel_or_a_filter_refuses_falls_back_to_the_walk(tree, monkeypatch, err):
    def refused(root, path, flags):  # type: ignore[no-untyped-def]
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(safeopen, "_openat2", refused)
    monkeypatch.setattr(safeopen, "_PROBED", False)
    monkeypatch.setattr(safeopen, "_OPENAT2", True)
    got = read(tree, me(), "ok.py", "link.py")
    assert isinstance(got["ok.py"], safeopen.Read)
    assert got["link.py"] == "it is a symbolic link, not a regular file"
    assert safeopen._OPENAT2 is False
