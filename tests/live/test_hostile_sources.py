"""A target's file names are hostile: an unprivileged target (``nobody``) whose code
objects name a symlink to a root-only file, ``/etc/shadow``, a ``..`` path to
pooltui's own ``/proc/self/environ``, and a FIFO. `pooltui snapshot` (as root) must
leak none of them, must not hang on the FIFO, and must still show the target's own
readable file. Issue 14 items 2 and 4."""

from __future__ import annotations

import json
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

pytestmark = pytest.mark.live

POOLTUI = [sys.executable, "-m", "pooltui.cli"]
SECRET = "TOPSECRET_d41d8cd98f"
CANARY = "POOLTUI_CANARY_7f3a9c"

TARGET = textwrap.dedent(
    """
    import os, sys, tempfile, threading
    secret = sys.argv[1]
    base = tempfile.mkdtemp(prefix="hostile-")
    os.chmod(base, 0o755)
    own = os.path.join(base, "own.py")
    with open(own, "w") as f:
        f.write("def block(ev): ev.wait()  # OWN_LINE_VISIBLE\\n")
    os.symlink(secret, os.path.join(base, "link.py"))
    os.symlink("/etc/shadow", os.path.join(base, "shadow.py"))
    os.mkdir(os.path.join(base, "dir.py"))
    depth = base.count("/") + 1
    escape = os.path.join(base, "dir.py") + "/.." * depth + "/proc/self/environ"
    os.mkfifo(os.path.join(base, "fifo.py"))
    paths = [own, os.path.join(base, "link.py"), os.path.join(base, "shadow.py"), escape,
             os.path.join(base, "fifo.py"), secret]
    ev = threading.Event()
    for path in paths:
        ns = {}
        exec(compile("def block(ev): ev.wait()\\n", path, "exec"), ns)
        threading.Thread(target=ns["block"], args=(ev,), name=os.path.basename(path)).start()
    print("ready", base, flush=True)
    ev.wait()
    """
)


def _readline(proc: subprocess.Popen, timeout: float = 60) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the target did not get ready"
    return proc.stdout.readline()


@pytest.fixture
def hostile_target(tmp_path):
    if os.geteuid() != 0 or not shutil.which("runuser") or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root, runuser and /usr/bin/python3 to run an unprivileged target")
    secret_dir = Path(tempfile.mkdtemp(prefix="pooltui-rootonly-"))  # /tmp/pytest-of-root is 0700
    secret_dir.chmod(0o755)
    secret = secret_dir / "secret.py"
    secret.write_text(f"{SECRET} = 1\n" * 5)
    secret.chmod(0o600)
    proc = subprocess.Popen(
        ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", TARGET, str(secret)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = _readline(proc)
        assert line.startswith("ready"), line
        # runuser stays the parent: the Python target is its child
        pid = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()[0])
        yield pid, line.split()[1]
        shutil.rmtree(line.split()[1], ignore_errors=True)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        shutil.rmtree(secret_dir, ignore_errors=True)


def test_hostile_source_paths_leak_nothing_and_do_not_hang(hostile_target, tmp_path):
    pid, base = hostile_target
    out = tmp_path / "report.json"
    started = time.monotonic()
    result = subprocess.run(
        [*POOLTUI, "snapshot", str(pid), "--timeout", "5", "--format", "json", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, CANARY: CANARY},
    )
    took = time.monotonic() - started
    assert result.returncode in (0, 1), result.stderr
    assert took < 60, f"snapshot took {took:.0f} s with a FIFO named as a source file"
    text = out.read_text()
    assert SECRET not in text
    assert CANARY not in text
    shadow_first = Path("/etc/shadow").read_text().split(":", 1)[0] + ":" if Path("/etc/shadow").exists() else None
    if shadow_first:
        assert "root:" not in text
    frames = {
        f["file"]: f
        for p in json.loads(text)["snapshot"]["processes"]
        for t in p["threads"]
        for f in t["frames"]
        if f["function"] == "block"
    }
    own = frames[f"{base}/own.py"]
    assert "OWN_LINE_VISIBLE" in (own["code"] or ""), own  # the target's own file is still shown
    notes = {Path(k).name: (f["code"], f["code_note"]) for k, f in frames.items()}
    assert notes["link.py"] == (None, "source not read: the target's user may not read it")
    assert notes["secret.py"] == (None, "source not read: the target's user may not read it")
    assert notes["fifo.py"] == (None, "source not read: it is a FIFO, not a regular file")
    assert notes["environ"][0] is None and notes["environ"][1].startswith("source not read:")
    if shadow_first:
        assert notes["shadow.py"][0] is None
