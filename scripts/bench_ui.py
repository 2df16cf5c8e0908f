"""UI and observer measurements for scripts/bench.py: first screen, key latency and event
loop stalls during a capture, the throughput a CPU-bound target loses to pooltui, and
pooltui's memory over many refreshes.

The app runs headless (``App.run_test``) over a real ``LiveSource``; every frame Textual
would send to the terminal is also rendered to escape sequences, as a terminal session
would, so rendering costs what it costs in a real one.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any, Callable, Optional

from textual import events

from pooltui.sources import LiveSource
from pooltui.ui.app import PoolApp
from pooltui.ui.widgets.process_tree import ProcessTree

SIZE = (160, 50)
HERE = Path(__file__).resolve().parent
_ANSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[a-zA-Z~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]")


def watch_frames(app: PoolApp, on_frame: Callable[[float], None]) -> None:
    """Call ``on_frame(time)`` for every frame the app outputs (rendered as for a terminal)."""
    display = app._display

    def hook(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None:
            if hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            on_frame(time.perf_counter())

    app._display = hook  # type: ignore[method-assign]


async def first_screen(root: int) -> dict[str, float]:
    """Headless: from creating the LiveSource (what `pooltui attach` does first) to the
    first frame whose process tree lists every process."""
    start = time.perf_counter()
    source = LiveSource(root)
    snapshot = await source.capture()
    captured = time.perf_counter()
    app = PoolApp(source, interval=3600, snapshot=snapshot)
    shown = asyncio.Event()
    when: list[float] = []

    def frame(at: float) -> None:
        tree = app.screen.query(ProcessTree)
        if not when and tree and len(tree.first().pids) == len(snapshot.processes):
            when.append(at)
            shown.set()

    watch_frames(app, frame)
    async with app.run_test(size=SIZE):
        await asyncio.wait_for(shown.wait(), 30)
    return {"seconds": when[0] - start, "capture": captured - start, "app": when[0] - captured}


def first_screen_terminal(root: int, pids: list[int], timeout: float = 30.0) -> Optional[float]:
    """A real `pooltui attach ROOT` in a pseudo-terminal: from exec (interpreter start and
    imports included) to the first output that shows every pid."""
    exe = Path(sys.executable).parent / "pooltui"
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    start = time.perf_counter()
    proc = subprocess.Popen([str(exe), "attach", str(root)], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    data, wanted, found = b"", [str(p).encode() for p in pids], None
    try:
        while found is None and time.perf_counter() - start < timeout:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    data += os.read(master, 1 << 16)
                except OSError:
                    break
                text = _ANSI.sub(b"", data)
                if all(w in text for w in wanted):
                    found = time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
    return found


async def keys_during_capture(root: int, presses: int = 12) -> dict[str, float]:
    """Start a full dump of the tree (`D`), press `down` every 50 ms while it runs; per
    press, the time until a frame shows the new selection. A 10 ms timer on the app's
    loop measures how long the loop (and so the UI) stalls meanwhile."""
    source = LiveSource(root)
    snapshot = await source.capture()
    app = PoolApp(source, interval=3600, snapshot=snapshot)
    frames: list[tuple[float, Optional[int]]] = []
    ticks: list[float] = []
    latencies: list[float] = []
    watch_frames(app, lambda at: frames.append((at, app.screen.query_one(ProcessTree).selected_pid)))

    def press(key: str) -> None:
        """As a terminal delivers a key: no waiting for the app to become idle (Pilot.press does)."""
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)  # type: ignore[union-attr]

    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(ProcessTree)
        await pilot.pause(0.3)
        app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
        await pilot.pause(0.1)
        start = time.perf_counter()
        press("D")
        await asyncio.sleep(0.05)
        while app.session.capturing and len(latencies) < presses:
            before, pressed = tree.selected_pid, time.perf_counter()
            press("down")
            while not any(at >= pressed and pid != before for at, pid in frames):
                await asyncio.sleep(0.001)
            latencies.append(next(at for at, pid in frames if at >= pressed and pid != before) - pressed)
            await asyncio.sleep(0.05)
        while app.session.capturing:
            await asyncio.sleep(0.01)
        end = time.perf_counter()
    during = [t for t in ticks if start <= t <= end]
    gaps = [b - a for a, b in zip(during, during[1:])]
    return {
        "capture_seconds": end - start,
        "key_ms_median": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "key_ms_max": max(latencies) * 1000 if latencies else float("nan"),
        "presses": len(latencies),
        "max_loop_gap_ms": max(gaps) * 1000 if gaps else float("nan"),
    }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK


def _tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        total += (int(stat[11]) + int(stat[12])) / _TICK
    return total


async def observer_cost(workers: int, window: float, pairs: int, interval: float = 2.0, quiet: float = 0.03) -> dict[str, Any]:
    """Throughput of bench_spin.py's ``workers`` spinning workers with and without a live
    pooltui (headless app, auto-refresh every ``interval``) watching, in ``pairs`` of
    alternating windows (ABBA order, so a drift of the machine cancels out). With no
    observer the app is paused. The machine is shared: a pair in which anything else (not
    the target, not pooltui or its py-spy runs) used more than ``quiet`` of the CPUs is set
    aside; the loss is the median of the quiet pairs. Also pooltui's own CPU time (itself
    and its py-spy runs) per refresh and as a share of the machine."""
    spin = subprocess.Popen(
        [sys.executable, str(HERE / "bench_spin.py"), str(workers)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert spin.stdin is not None and spin.stdout is not None
    cpus = os.cpu_count() or 1
    try:
        assert spin.stdout.readline().strip() == "ready"
        tree = [spin.pid, *(int(p) for p in Path(f"/proc/{spin.pid}/task/{spin.pid}/children").read_text().split())]

        def count() -> int:
            spin.stdin.write("\n")  # type: ignore[union-attr]
            spin.stdin.flush()  # type: ignore[union-attr]
            return int(spin.stdout.readline())  # type: ignore[union-attr]

        def own() -> float:
            return _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)

        source = LiveSource(spin.pid)
        app = PoolApp(source, interval=interval, snapshot=await source.capture())
        refreshes = 0
        capture = source.capture

        async def counted(**kwargs: Any):  # type: ignore[no-untyped-def]
            nonlocal refreshes
            refreshes += 1
            return await capture(**kwargs)

        source.capture = counted  # type: ignore[method-assign]
        windows: list[tuple[bool, float, float, float]] = []  # (observed, rate, pooltui cpu, others' share)
        async with app.run_test(size=SIZE):
            for i in range(pairs * 2):
                observed = (i % 4) in (1, 2)  # ABBA
                app.session.paused = not observed
                before, cpu0, busy0, target0 = count(), own(), _machine_busy(), _tree_cpu(tree)
                start = time.perf_counter()
                await asyncio.sleep(window)
                took = time.perf_counter() - start
                mine = own() - cpu0
                others = _machine_busy() - busy0 - (_tree_cpu(tree) - target0) - mine
                windows.append((observed, (count() - before) / took, mine, others / (took * cpus)))
        pairs_seen = [(windows[i], windows[i + 1]) for i in range(0, len(windows) - 1, 2)]
        losses = [1 - (b[1] if b[0] else a[1]) / (a[1] if b[0] else b[1]) for a, b in pairs_seen]
        quiet_losses = [loss for loss, (a, b) in zip(losses, pairs_seen) if max(a[3], b[3]) <= quiet]
        cpu = sum(w[2] for w in windows if w[0])
        return {
            "loss": statistics.median(quiet_losses) if quiet_losses else float("nan"),
            "loss_all_pairs": statistics.median(losses),
            "quiet_pairs": len(quiet_losses),
            "pair_losses": losses,
            "others_share": [round(w[3], 4) for w in windows],
            "observer_cpu_share": cpu / (window * pairs * cpus),
            "observer_cpu_ms_per_refresh": cpu / max(1, refreshes) * 1000,
        }
    finally:
        os.killpg(spin.pid, signal.SIGKILL)  # its own process group: the root and its workers
        spin.wait()


def memory_child(root: int, refreshes: int) -> dict[str, Any]:
    """Run ``memory_main`` in a fresh interpreter (so the bench's own allocations do not count)."""
    out = subprocess.run(
        [sys.executable, str(HERE / "bench.py"), "--memory-child", str(root), str(refreshes)],
        capture_output=True, text=True, timeout=max(600, refreshes * 2),
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


async def memory_main(root: int, refreshes: int) -> dict[str, Any]:
    """The TUI refreshing as fast as it can; RSS after 10 refreshes (warm) and after all."""
    import psutil

    source = LiveSource(root)
    app = PoolApp(source, interval=0.01)
    done, samples = 0, {}
    capture = source.capture

    async def counted(**kwargs: Any):  # type: ignore[no-untyped-def]
        nonlocal done
        result = await capture(**kwargs)
        done += 1
        if done in (10, refreshes) or done % 100 == 0:
            samples[done] = psutil.Process().memory_info().rss
        return result

    source.capture = counted  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        while done < refreshes:
            await pilot.pause(0.05)
    return {"refreshes": refreshes, "rss_warm": samples[10], "rss_end": samples[refreshes], "samples": samples}
