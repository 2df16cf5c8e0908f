"""End to end: `pooltui attach PID` in a real terminal (tmux) on a live demo pool; the
keyboard selects a busy worker and the stack pane shows what a user looks for."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pooltui import scenarios

pytestmark = [pytest.mark.live, pytest.mark.tui]
ROOT = Path(__file__).resolve().parent.parent.parent


SOCKET = f"pooltui-e2e-{os.getpid()}"  # a private tmux server: no other session or config can resize ours


# Textual's test harness leaves COLUMNS=80 LINES=24 in this process's environment; a
# terminal app started with them draws 80x24 whatever the tmux window's size
TERMINAL_ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def tmux(*args: str) -> str:
    cmd = ["tmux", "-L", SOCKET, "-f", os.devnull, *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=TERMINAL_ENV).stdout


def screen(session: str) -> str:
    """The pane's text; "" once the session has ended (pooltui quit and tmux closed it)."""
    try:
        return tmux("capture-pane", "-p", "-t", session)
    except subprocess.CalledProcessError:
        return ""


def shown_pid(text: str) -> int | None:
    """The pid whose threads the stack pane shows (its border title)."""
    found = re.search(r"threads · pid (\d+)", text)
    return int(found.group(1)) if found else None


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _cells(escaped: str) -> list[list[tuple[str, str]]]:
    """``capture-pane -e`` output as lines of (character, background) cells; tmux emits
    attributes as changes from the previous cell, across lines."""
    lines: list[list[tuple[str, str]]] = [[]]
    background, pos = "", 0
    for found in _SGR.finditer(escaped + "\x1b[m"):
        for ch in escaped[pos : found.start()]:
            if ch == "\n":
                lines.append([])
            else:
                lines[-1].append((ch, background))
        pos = found.end()
        codes = found.group(1).split(";") if found.group(1) else ["0"]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in ("0", "49"):
                background = ""
            elif code == "48":  # 48;5;N or 48;2;R;G;B
                width = 3 if codes[i + 1 : i + 2] == ["5"] else 5
                background, i = ";".join(codes[i : i + width]), i + width - 1
            elif code in ("38",):  # skip a colour's arguments
                i += 2 if codes[i + 1 : i + 2] == ["5"] else 4
            i += 1
    return lines


def highlighted_rows(session: str) -> list[str]:
    """The process tree's rows whose label is drawn on another background than most
    rows' (the highlight), from what the terminal shows: a row a partial repaint left
    highlighted counts too."""
    rows = []
    for cells in _cells(tmux("capture-pane", "-p", "-e", "-t", session)):
        text = "".join(ch for ch, _ in cells)
        label = re.search(r"pool (parent|worker)", text.split("│")[1] if text.count("│") > 1 else "")
        if label:
            start = text.index("│") + 1 + label.start()
            rows.append((cells[start][1], text.split("│")[1]))
    usual = max({bg for bg, _ in rows}, key=lambda bg: sum(b == bg for b, _ in rows))
    return [text for bg, text in rows if bg != usual]


def wait_for(session: str, predicate, what: str, timeout: float = 60.0) -> str:  # type: ignore[no-untyped-def]
    """Poll the pane until ``predicate(text)``; fail with the last screen after ``timeout``."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(session)
        if predicate(text):
            return text
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; the screen was:\n{text}")


@pytest.fixture
def healthy_pool():
    try:
        demo = scenarios.start("healthy", sys.executable, timeout=60)
    except scenarios.DemoError as exc:
        pytest.fail(f"demo scenario did not start: {exc}")
    yield demo
    demo.stop()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_attach_shows_a_busy_workers_stack(healthy_pool):
    busy = set(healthy_pool.truth["busy_pids"])
    workers = healthy_pool.truth["worker_pids"]
    session = f"pooltui-e2e-{os.getpid()}"
    command = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pooltui.cli attach {healthy_pool.pid} --interval 5"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command)
    try:
        text = wait_for(session, lambda t: "pool parent" in t and "pool worker" in t and shown_pid(t), "the process tree")
        # busy workers alike share a row (`g`: one row each). Under load they may not be alike
        # (a sample caught one off spin_chunk, the busy verdict names one): no group, and `g`
        # is then ignored (check_action: groupable)
        if re.search(r"pool worker ×\d+ ", text):
            tmux("send-keys", "-t", session, "g")
            # every worker on its own row (the "every process shown" toast lasts 2 s: a
            # poller on a loaded machine can miss it; the rows stay)
            text = wait_for(session, lambda t: all(re.search(rf"pool worker #\d+ +{pid} ", t) for pid in workers), "the tree ungrouped")
        for _ in range(12):  # down through the tree, one row at a time, until a busy worker is shown
            current = shown_pid(text)
            if current in busy:
                break
            tmux("send-keys", "-t", session, "Down")
            text = wait_for(session, lambda t, was=current: shown_pid(t) not in (None, was), "the selection to move")
        text = wait_for(session, lambda t: shown_pid(t) in busy and "crunch" in t, f"a busy worker's stack ({sorted(busy)})")
        assert "pool worker" in text and "running" in text
        assert "spin_chunk" in text  # the task's inner function, innermost frame first
        tmux("send-keys", "-t", session, "q")
        wait_for(session, lambda t: "pool parent" not in t, "pooltui to quit", timeout=15)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_moving_the_highlight_repaints_the_row_it_left():
    """A move repaints just the two rows (ui.widgets.option_list): between workers alike
    (same threads, nothing else on screen changes size; `g` shows them one row each) no
    full repaint hides a stale one."""
    try:
        demo = scenarios.start("pool_size", sys.executable, args=("--workers", "6", "--mode", "idle"), timeout=60)
    except scenarios.DemoError as exc:
        pytest.fail(f"demo scenario did not start: {exc}")
    session = f"pooltui-e2e-rows-{os.getpid()}"
    command = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pooltui.cli attach {demo.pid} --interval 60"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command)
    try:
        wait_for(session, lambda t: re.search(r"pool worker ×[2-6] ", t) and shown_pid(t) == demo.pid, "the tree, idle workers alike in one row")
        tmux("send-keys", "-t", session, "g")  # one row each
        text = wait_for(session, lambda t: t.count("pool worker") == 6, "the workers one row each")
        for step in range(6):
            tmux("send-keys", "-t", session, "Down")
            text = wait_for(session, lambda t, was=shown_pid(text): shown_pid(t) not in (None, was), "the selection to move")
            rows = highlighted_rows(session)
            assert [str(shown_pid(text)) in row for row in rows] == [True], f"after {step + 1} moves the highlighted rows are {rows}"
        tmux("send-keys", "-t", session, "q")
        wait_for(session, lambda t: "pool parent" not in t, "pooltui to quit", timeout=15)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)
        demo.stop()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_open_shows_a_saved_report_and_quits_with_q():
    report = ROOT / "tests" / "fixtures" / "tui-pool-py311.json"
    session = f"pooltui-e2e-open-{os.getpid()}"
    command = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pooltui.cli open {shlex.quote(str(report))}; echo EXIT=$?; sleep 30"
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", command)
    try:
        text = wait_for(session, lambda t: "pool parent" in t and "recorded report" in t, "the recorded tree")
        assert "hold_lock" not in text  # the root is selected first: its stacks, not a worker's
        tmux("send-keys", "-t", session, "q")
        wait_for(session, lambda t: "EXIT=0" in t, "pooltui to exit 0", timeout=15)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)


@contextlib.contextmanager
def attached(scenario: str, version: str, interval: float, width: int = 160, height: int = 50) -> Iterator[tuple[scenarios.RunningDemo, str]]:
    """`pooltui attach` in a tmux window on demo ``scenario`` under Python ``version``
    (skipped where absent): yields the demo and the session; quits with q, stops both."""
    python = scenarios.find_python(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed")
    demo = scenarios.start(scenario, python, timeout=60)
    session = f"pooltui-e2e-{scenario}-{os.getpid()}"
    command = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pooltui.cli attach {demo.pid} --interval {interval:g}"
    try:
        tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command)
        yield demo, session
        tmux("send-keys", "-t", session, "q")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)
        demo.stop()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("version", ["2.7", "3.12"])
def test_attach_names_the_orphaned_lock_after_fork(version):
    """The logging-after-fork demo: a worker's pane names the handler's lock, says its
    owner does not exist in the worker, and the diagnosis calls it an orphaned lock."""
    with attached("logging_fork", version, interval=5) as (demo, session):
        wait_for(session, lambda t: "pool worker" in t and shown_pid(t), "the process tree")
        tmux("send-keys", "-t", session, "Down")
        worker = demo.truth["worker_pids"][0]
        text = wait_for(session, lambda t: shown_pid(t) in demo.truth["worker_pids"] and "flush_lock" in t, "a worker's wait line")
        flat = " ".join(text.replace("│", " ").split())
        assert "waits on BufferingHandler.flush_lock (RLock)" in flat
        assert "does not exist in this process" in flat
        assert "orphaned_lock" in flat  # the tree's badge for the diagnosis
        assert shown_pid(text) == worker


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("version", ["2.7", "3.12"])
def test_a_worker_killed_while_attached_shows_its_signal_its_replacement_and_the_lost_task(version):
    """Issue 6's check as a user makes it: kill a busy worker of a running pool while
    `pooltui attach` watches; the tree keeps it dimmed with how it died and who replaced
    it, the event log says so, and the diagnosis names the lost task."""
    with attached("killed_worker", version, interval=1, width=180) as (demo, session):
        victim = demo.truth["busy_pids"][0]
        wait_for(session, lambda t: str(victim) in t and "lost_task" in t, "the tree with the demo's own lost task")
        os.kill(victim, 9)
        text = wait_for(session, lambda t: f"(pid {victim}) exited" in t and "died while running" in t, "the exit and the verdict")
        lines = text.splitlines()

        def shown(pattern: str) -> bool:  # on one line of the screen (panes side by side wrap separately)
            return any(re.search(pattern, line) for line in lines)

        if "exit status unknown" not in text:  # the kernel's exit events are readable here (pooltui doctor says)
            assert shown(rf"{victim} killed by SIGKILL, replaced by \d+"), text  # the dimmed tree row
            assert shown(rf"pool worker #1 \(pid {victim}\) exited: killed by SIGKILL"), text  # the event log
        assert shown(r"replaced by pool worker #5"), text
        assert shown(rf"pool worker #1 \(pid {victim}\) died while running a task"), text


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_fifo_named_as_source_neither_freezes_the_tui_nor_forges_lines(tmp_path):
    """An unprivileged-looking target whose code objects name a FIFO and a file whose
    name holds a newline: the TUI shows the stack with the refusal in words, the name on
    one line, and `q` still quits (issue 14 items 4 and 14)."""
    base = Path(tempfile.mkdtemp(prefix="pooltui-fifo-"))
    fifo = base / "fifo.py"
    os.mkfifo(fifo)
    code = (
        "import threading, sys\n"
        f"ns = {{}}; exec(compile('def blocked_at_fifo(ev): ev.wait()\\n', {str(fifo)!r}, 'exec'), ns)\n"
        "ev = threading.Event()\n"
        "threading.Thread(target=ns['blocked_at_fifo'], args=(ev,), name='evil\\nforged line').start()\n"
        "print('ready', flush=True); ev.wait()\n"
    )
    target = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    session = f"pooltui-e2e-fifo-{os.getpid()}"
    try:
        assert target.stdout.readline().strip() == "ready"
        command = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pooltui.cli attach {target.pid} --interval 5"
        tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command)
        text = wait_for(session, lambda t: "blocked_at_fifo" in t and "source not read" in t, "the stack with the FIFO refused")
        assert "it is a FIFO" in text
        assert "evil\\nforged line" in text
        assert not any(line.lstrip(" │").startswith("forged line") for line in text.splitlines())
        tmux("send-keys", "-t", session, "q")
        wait_for(session, lambda t: "blocked_at_fifo" not in t, "pooltui to quit", timeout=15)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)
        os.killpg(target.pid, 9)
        target.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_attach_to_a_worker_opens_on_it_and_enter_goes_to_the_holder_at_fork():
    """The default demo's headline case, as a user types it: `attach WORKER_PID` opens on
    that worker (the tree rooted at the pool); tab, enter on its thread blocked by the
    orphaned lock goes to the parent's thread that held it at fork."""
    python = scenarios.find_python("3.12") or sys.executable
    demo = scenarios.start("logging_fork", python, timeout=60)
    session = f"pooltui-e2e-fork-{os.getpid()}"
    try:
        worker, holder = demo.truth["worker_pids"][1], demo.truth["holder"]
        command = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pooltui.cli attach {worker} --interval 5"
        tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command)
        text = wait_for(session, lambda t: shown_pid(t) == worker and "flush_lock" in t, f"worker {worker} selected with its wait")
        assert "pool parent" in text  # still the whole pool
        tmux("send-keys", "-t", session, "Tab")
        wait_for(session, lambda t: "go to holder at fork" in t, "the footer's enter for an orphaned lock")
        tmux("send-keys", "-t", session, "Enter")
        text = wait_for(session, lambda t: shown_pid(t) == holder["pid"], "the parent selected")
        assert holder["name"] in text
        tmux("send-keys", "-t", session, "q")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)
        demo.stop()
