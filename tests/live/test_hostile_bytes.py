"""A real target whose bytes are not UTF-8 (issue 14 item 5), run as an unprivileged user:
its script path is Latin-1 (`caf\\xe9.py`), an argument too (`r\\xe9sum\\xe9.csv`), and its comm
is cut mid-character by prctl(PR_SET_NAME). `pooltui snapshot` writes JSON, Markdown and
HTML reports of it (before: UnicodeEncodeError and a 0-byte temp file), Markdown shows the
bytes as \\xNN, and the JSON loads back with the same strings as /proc has them."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from pooltui.report import load_report

pytestmark = pytest.mark.live
SYSTEM_PYTHON = "/usr/bin/python3"

TARGET = textwrap.dedent(
    """
    import ctypes, os, sys, time
    ctypes.CDLL(None).prctl(15, b"w\\xc3\\xa9rker-\\xc3", 0, 0, 0)  # PR_SET_NAME: 15 bytes, the last cut mid-character
    with open(sys.argv[1], "w") as ready:
        ready.write(str(os.getpid()) + "\\n")
    time.sleep(600)
    """
)


def _ready(fifo, proc: subprocess.Popen, timeout: float = 60) -> int:
    """The pid the target writes into ``fifo`` once it is set up (never a fixed sleep)."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        data, deadline = b"", time.monotonic() + timeout
        while not data.endswith(b"\n"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the target did not get ready (exit {proc.returncode})")
            select.select([fd], [], [], 0.5)
            data += os.read(fd, 64)
        return int(data)
    finally:
        os.close(fd)


@pytest.fixture
def target():
    if not (os.geteuid() == 0 and shutil.which("runuser") and os.access(SYSTEM_PYTHON, os.X_OK)):
        pytest.skip("needs root, runuser and /usr/bin/python3 to run the target as nobody")
    folder = Path(tempfile.mkdtemp(prefix="pooltui-bytes-"))  # pytest's tmp_path is 0700: nobody could not run the script
    folder.chmod(0o755)
    script = os.path.join(os.fsencode(folder), b"caf\xe9.py")
    with open(script, "w") as f:
        f.write(TARGET)
    os.chmod(script, 0o644)
    fifo = folder / "ready"
    os.mkfifo(fifo, 0o666)
    fifo.chmod(0o666)
    proc = subprocess.Popen(["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, script, str(fifo), b"r\xe9sum\xe9.csv"], start_new_session=True)
    try:
        yield _ready(fifo, proc), os.fsdecode(script)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        shutil.rmtree(folder)


def test_reports_of_a_target_with_undecodable_bytes(target, tmp_path):
    pid, script = target
    for fmt in ("json", "md", "html"):
        command = [sys.executable, "-m", "pooltui.cli", "snapshot", str(pid), "-o", str(tmp_path / f"r.{fmt}")]
        out = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert out.returncode in (0, 1) and "Traceback" not in out.stderr, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r.html", "r.json", "r.md"]  # no temp file left
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "r\\xe9sum\\xe9.csv" in md and "caf\\xe9.py" in md
    (tmp_path / "r.html").read_text(encoding="utf-8")
    process = load_report(tmp_path / "r.json").snapshot.process(pid)
    assert process is not None and process.name == os.fsdecode(b"w\xc3\xa9rker-\xc3")
    assert process.cmdline[-1] == os.fsdecode(b"r\xe9sum\xe9.csv") and script in process.cmdline
    stdout = subprocess.run([sys.executable, "-m", "pooltui.cli", "snapshot", str(pid), "--format", "md"], capture_output=True, timeout=120)
    assert stdout.returncode in (0, 1) and b"r\\xe9sum\\xe9.csv" in stdout.stdout
