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
    frames = {f["file"]: f for p in json.loads(text)["snapshot"]["processes"] for t in p["threads"] for f in t["frames"] if f["function"] == "block"}
    own = frames[f"{base}/own.py"]
    assert "OWN_LINE_VISIBLE" in (own["code"] or ""), own  # the target's own file is still shown
    notes = {Path(k).name: (f["code"], f["code_note"]) for k, f in frames.items()}
    assert notes["link.py"] == (None, "source not read: the target's user may not read it")
    assert notes["secret.py"] == (None, "source not read: the target's user may not read it")
    assert notes["fifo.py"] == (None, "source not read: it is a FIFO, not a regular file")
    assert notes["environ"][0] is None and notes["environ"][1].startswith("source not read:")
    if shadow_first:
        assert notes["shadow.py"][0] is None


JAILED = """
import threading
ns = {}
exec(compile("def in_jail(ev): ev.wait()\\n", "/srv/app.py", "exec"), ns)
ev = threading.Event()
threading.Thread(target=ns["in_jail"], args=(ev,)).start()
print("ready", flush=True)
ev.wait()
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "chroot")) or not os.path.exists("/usr/bin/python3"),
    reason="needs root, unshare and chroot to run a target in a root of its own",
)
def test_a_target_in_its_own_root_is_read_there_and_absolute_symlinks_stay_inside(tmp_path):
    """A chrooted target (as in a container: its own mount namespace and root) whose
    source file is an absolute symlink: it resolves inside the target's root, as the
    target sees it, never to the host's file of that name."""
    token = os.urandom(4).hex()
    host_file = Path(f"/tmp/pooltui-host-{token}.py")
    host_file.write_text("HOST_VERSION = 1\n")
    jail = Path(tempfile.mkdtemp(prefix="pooltui-jail-"))
    jail.chmod(0o755)
    for d in ("usr", "srv", "tmp", "proc"):
        (jail / d).mkdir()
    for link, to in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        (jail / link).symlink_to(to)
    (jail / "tmp").chmod(0o1777)
    (jail / "tmp" / host_file.name).write_text("JAIL_VERSION = 1\n")
    (jail / "srv" / "app.py").symlink_to(host_file)  # absolute: /tmp/pooltui-host-….py
    inner = (
        f"mount --bind /usr {jail}/usr && mount -t proc proc {jail}/proc && exec chroot --userspec=65534:65534 {jail} /usr/bin/python3 -c '{JAILED}'"
    )
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", inner], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert _readline(proc) == "ready\n"
        command = [*POOLTUI, "snapshot", str(proc.pid), "--timeout", "5", "--format", "json"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), result.stderr
        processes = json.loads(result.stdout)["snapshot"]["processes"]
        frames = [f for p in processes for t in p["threads"] for f in t["frames"] if f["function"] == "in_jail"]
        assert [f["code"] for f in frames] == ["JAIL_VERSION = 1"]
        assert "HOST_VERSION" not in result.stdout
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        host_file.unlink()
        (jail / "tmp" / host_file.name).unlink()
        (jail / "srv" / "app.py").unlink()
        for link in ("bin", "lib", "lib64"):
            (jail / link).unlink()
        for d in ("usr", "srv", "tmp", "proc"):  # rmdir, never rmtree: a bind mount must not take /usr with it
            (jail / d).rmdir()
        jail.rmdir()
