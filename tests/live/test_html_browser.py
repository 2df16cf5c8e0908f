"""A real capture of a small real pool, saved as HTML and opened in headless Chromium;
the same capture shows that secrets never reach a report and hostile strings stay
inert text.

The target is a Pool(2) whose workers wait in the user's own function, plus a parent
thread with a hostile name holding a password in a local, started with a hostile
argument and a secret on its command line. It signals readiness through a FIFO.
Chromium (Debian package ``chromium``) is installed by .ci/run; without it the browser
test skips and the others still run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from pooltui.analysis import analyze
from pooltui.capture.snapshot import CaptureOptions, capture_tree
from pooltui.model import dumps
from pooltui.report import render, save_report

pytestmark = pytest.mark.live

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "\x1b[31m<script>alert({n})</script>"
THREAD_NAME = "evil" + HOSTILE.format(n=1)
PASSWORD = "hunter2-very-secret"
CMD_SECRET = "s3cr3t-from-argv"

TARGET = textwrap.dedent(
    """
    import multiprocessing as mp, sys, threading

    RELEASE = STARTED = None

    def init(release, started):
        global RELEASE, STARTED
        RELEASE, STARTED = release, started

    def wait_for_release(i):
        STARTED.put(i)
        RELEASE.wait()

    def keeper(ready_event):
        password = {password!r}
        note = {note!r}
        ready_event.set()
        threading.Event().wait()

    if __name__ == "__main__":
        ctx = mp.get_context("fork")
        release, started = ctx.Event(), ctx.Queue()
        up = threading.Event()
        threading.Thread(target=keeper, args=(up,), name={thread_name!r}, daemon=True).start()
        with ctx.Pool(2, initializer=init, initargs=(release, started)) as pool:
            result = pool.map_async(wait_for_release, range(2), chunksize=1)
            started.get(timeout=30), started.get(timeout=30)
            up.wait(30)
            with open(sys.argv[1], "w") as fifo:
                fifo.write("ready\\n")
            result.get()
    """
).format(password=PASSWORD, note=HOSTILE.format(n=2), thread_name=THREAD_NAME)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pool")
    script = folder / "hung_pool.py"
    script.write_text(TARGET)
    fifo = folder / "ready"
    os.mkfifo(fifo)
    argv = [sys.executable, str(script), str(fifo), "--label=" + HOSTILE.format(n=3), "--api-token", CMD_SECRET]
    proc = subprocess.Popen(argv, start_new_session=True)

    def unblock_if_it_dies() -> None:
        proc.wait()
        try:  # a target that died before it was ready must not leave the reader below blocked
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody reading: the test already went on

    threading.Thread(target=unblock_if_it_dies, daemon=True).start()
    try:
        with open(fifo) as f:  # until the pool is up and both workers sit in wait_for_release
            line = f.readline()
        assert line == "ready\n", f"the target exited with {proc.wait()} before it was ready"
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def capture(pid: int, **options):
    return analyze(asyncio.run(capture_tree(pid, CaptureOptions(locals=True, **options))))


@pytest.fixture(scope="module")
def snapshot(pool):
    return capture(pool)


def test_secrets_never_enter_the_snapshot(pool, snapshot):
    saved = dumps(snapshot)
    for text in (saved, render(snapshot, "md"), render(snapshot, "html")):
        assert PASSWORD not in text
        assert CMD_SECRET not in text
    keeper = next(t for p in snapshot.processes for t in p.threads if t.name == THREAD_NAME)
    frame = next(f for f in keeper.frames if f.function == "keeper")
    assert frame.local("password").repr == "<redacted>"
    assert frame.local("note").repr == '"' + HOSTILE.format(n=2) + '"'  # not secret: kept as captured
    assert "<redacted>" in snapshot.process(pool).cmdline
    # the check is not vacuous: without redaction the same capture holds both
    unredacted = dumps(capture(pool, redact=False))
    assert PASSWORD in unredacted and CMD_SECRET in unredacted


def test_hostile_strings_are_inert(snapshot):
    md, page = render(snapshot, "md"), render(snapshot, "html")
    assert "\x1b" not in md and "\x1b" not in page
    assert "<script" not in page.lower()
    for n in (1, 2, 3):
        assert html_text(HOSTILE.format(n=n)) in page


def html_text(captured: str) -> str:
    """How the HTML report shows a captured string: escapes as \\xNN, then HTML-escaped."""
    import html

    from pooltui.report.text import one_line

    return html.escape(one_line(captured), quote=True)


needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)")


def chromium_dom(path: Path, profile: Path) -> str:
    """The page's DOM as headless Chromium built it (no network: the page asks for nothing)."""
    out = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--dump-dom", path.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@needs_chromium
def test_report_in_headless_chromium(pool, snapshot, tmp_path):
    path = save_report(tmp_path / "hang.html", snapshot)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    dom = chromium_dom(path, tmp_path / "profile")
    assert dom.count("<") > 100, dom[:500]  # the page was parsed, not an error page
    # what a person looks for
    assert f"pooltui report — pid {pool} on" in dom
    assert "pool parent" in dom and "pool worker #1" in dom and "pool worker #2" in dom
    assert "MainThread" in dom
    assert "wait_for_release" in dom and "RELEASE.wait()" in dom  # the user's function and its source line
    assert 'class="user' in dom
    # the hostile thread name is text in the DOM, never an element
    assert "evil\\x1b[31m&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom.lower()
    assert PASSWORD not in dom


@needs_chromium
def test_wait_for_graph_in_headless_chromium(tmp_path):
    """A recorded ABBA deadlock, one of its threads renamed to markup and a script: the SVG is
    in the DOM with the cycle's two arrows red, and the name is text in it."""
    from pooltui.model import replace
    from tests.conftest import recorded_report

    snap = analyze(recorded_report("abba-py3.12").snapshot)
    proc = snap.process(snap.root_pid)
    evil = "[bold]" + HOSTILE.format(n=7)
    proc = replace(proc, threads=tuple(replace(t, name=evil) if t.name == "transfer-b2a" else t for t in proc.threads))
    snap = snap.with_(processes=tuple(proc if p.pid == proc.pid else p for p in snap.processes))
    dom = chromium_dom(save_report(tmp_path / "abba.html", snap), tmp_path / "profile")
    graph = dom[dom.index('<section id="waits">') : dom.index("</section>", dom.index('<section id="waits">'))]
    assert '<svg class="wg"' in graph and graph.count('class="arrow cycle"') == 2 and graph.count('class="node cycle"') == 2
    assert "[bold]\\x1b[31m&lt;script&gt;alert(7)&lt;/script&gt;" in graph
    assert "<script" not in dom.lower()
