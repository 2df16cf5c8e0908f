"""Stacks read from a core file (``pooltui snapshot CORE``, ``capture.coredump``) are the
stacks the process had: equal to a live read of the same still process just before
``gcore`` took its core, equal to the stacks before a crash for every thread the crash did
not move, equal to what ``py-spy dump --core`` reads from the same core, on 2.7 (through
py-spy), 3.8, 3.11 and 3.13. Cores are made here, deterministically: ``gcore`` of a live
target, and a target that segfaults (``ctypes.string_at(0)``) under ``RLIMIT_CORE``
unlimited in a directory the test owns (``core_pattern`` ``core``). A core that is
truncated, not a core, empty, or whose binaries on disk differ is refused in one line with
exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pooltui.capture import direct, pyspy
from pooltui.capture.coredump import read_core
from tests.conftest import interpreter_params

pytestmark = pytest.mark.live

TARGET = """
import ctypes, resource, sys, threading, time
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
never = threading.Event()

def napper():
    never.wait()

def crash_on_go():
    sys.stdin.readline()
    ctypes.string_at(0)

lock = threading.Lock()
lock.acquire()
rlock = threading.RLock()
rlock.acquire()

def blocked():
    with lock:
        pass

def r_blocked():
    with rlock:
        pass

threading.Thread(target=napper, name="napper").start()
threading.Thread(target=blocked, name="blocked").start()
threading.Thread(target=r_blocked, name="r-blocked").start()
threading.Thread(target=crash_on_go, name="crasher").start()
time.sleep(0.3)
sys.stdout.write("ready\\n")
sys.stdout.flush()
never.wait()
"""


def _pooltui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pooltui", *args], capture_output=True, text=True, timeout=120)


def _frames(t) -> tuple:  # type: ignore[no-untyped-def]
    return tuple((f.function, f.file, f.line) for f in t.frames if not f.native)


def _stacks(threads) -> dict:  # type: ignore[no-untyped-def]
    return {t.ident: (t.name, _frames(t)) for t in threads}


def _version(python: str) -> tuple[int, int]:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True)
    major, minor = out.stdout.split(".")
    return int(major), int(minor)


def _kernel_writes_core_here() -> bool:
    try:
        pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    except OSError:
        return False
    return pattern == "core"


@pytest.fixture
def target(tmp_path, request):
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    proc = subprocess.Popen([request.param, str(script)], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    yield proc, _version(request.param)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _live(pid: int, version: tuple[int, int]):  # type: ignore[no-untyped-def]
    """A live read of the still process: py-spy's (unpaused), and for 3.8+ the direct reader's too."""
    import asyncio

    spy = asyncio.run(pyspy.dump(pid, pyspy.DumpOptions(nonblocking=True)))
    if version in direct.stacks.STACK_LAYOUTS:
        mine = direct._read(pid, version)[0]
        assert _stacks(mine) == _stacks(spy), "the live direct read and py-spy's differ"
    return spy


def _pyspy_core(core: Path) -> dict:
    out = subprocess.run([pyspy.find_pyspy(), "dump", "--core", str(core), "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {t["thread_id"]: (t.get("thread_name"), tuple((f["name"], f["filename"], f["line"]) for f in t["frames"])) for t in json.loads(out.stdout)}


@pytest.mark.parametrize("target", interpreter_params(("3.8", "3.11", "3.13")), indirect=True)
def test_a_gcore_of_a_still_process_reads_as_the_live_process_did(target, tmp_path):
    proc, version = target
    # gdb's attach wakes every thread for a moment (ptrace): the stacks at the core are those
    # read before and after it when both are equal
    for _ in range(20):
        live = _live(proc.pid, version)
        subprocess.run(["gcore", "-o", str(tmp_path / "g"), str(proc.pid)], capture_output=True, check=True, timeout=120)
        if _stacks(_live(proc.pid, version)) == _stacks(live):
            break
    else:
        pytest.fail("the target's stacks never stood still across a gcore")
    core = tmp_path / f"g.{proc.pid}"
    snap = read_core(str(core))
    (process,) = snap.processes
    assert process.pid == proc.pid and process.python == f"{version[0]}.{version[1]}"
    assert _stacks(process.threads) == _stacks(live)
    assert {t.name for t in process.threads} >= {"MainThread", "napper", "blocked", "crasher"}
    tids = {t.ident: t.tid for t in live if t.tid}
    assert all(t.tid == tids.get(t.ident, t.tid) and t.tid > 0 for t in process.threads), "OS thread ids from NT_PRSTATUS"
    assert process.exit_code is None and not any(t.active for t in process.threads)
    blocked = next(t for t in process.threads if t.name == "blocked")
    assert blocked.syscall == "futex" and blocked.futex, "what it waited on, from its registers in the core"
    code = {f.code for t in process.threads for f in t.frames}
    assert "never.wait()" in code and "with lock:" in code, "source lines read as the core's owner"
    # lock state from the core's heap: the RLock's owner is the main thread, a fact
    main = next(t for t in process.threads if t.name == "MainThread")
    r_blocked = next(t for t in process.threads if t.name == "r-blocked")
    by_name = {lock.name: lock for lock in snap.locks}
    assert set(by_name) == {"lock", "rlock"}, "only the locks threads wait on (not an Event's own lock)"
    assert by_name["rlock"].owner_ident == main.ident and by_name["rlock"].waiters == ((proc.pid, r_blocked.tid),)
    assert by_name["lock"].locked is True and by_name["lock"].owner_ident is None
    out = _pooltui("snapshot", str(core), "--format", "md")
    assert out.returncode in (0, 1), out.stderr
    assert "waits on rlock (RLock) held by 'MainThread'" in out.stdout
    assert "(crashed)" not in out.stdout, "a gcore of a live process is no crash"


@pytest.mark.skipif(not _kernel_writes_core_here(), reason="core_pattern is not 'core' here: the kernel writes cores elsewhere")
@pytest.mark.parametrize("target", interpreter_params(("2.7", "3.8", "3.11", "3.13")), indirect=True)
def test_a_crash_core_has_the_stacks_before_the_crash_and_py_spys(target, tmp_path):
    proc, version = target
    live = _live(proc.pid, version)
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == -11
    core = tmp_path / "core"
    assert core.exists(), "no core written (RLIMIT_CORE, core_pattern)"
    snap = read_core(str(core))
    (process,) = snap.processes
    assert process.pid == proc.pid and process.exit_code == 11 | 0x80
    mine = _stacks(process.threads)
    assert mine == _pyspy_core(core), "pooltui's stacks from the core differ from py-spy dump --core's"
    before = _stacks(live)
    crasher = next(t for t in process.threads if t.active)  # the thread that took the signal (2.7: py-spy names no thread)
    assert {k: v for k, v in mine.items() if k != crasher.ident} == {k: v for k, v in before.items() if k != crasher.ident}
    # the thread that crashed moved from its readline to the crash, one line further down
    assert mine[crasher.ident][1][1:] == before[crasher.ident][1][1:] or mine[crasher.ident][1][-3:] == before[crasher.ident][1][-3:]
    assert any(f[0] == "string_at" for f in mine[crasher.ident][1])
    assert sum(t.active for t in process.threads) == 1 and crasher.frames[-1].function != "<module>"
    assert any("SIGSEGV at address 0x0" in n and str(crasher.tid) in n for n in snap.notes)
    out = _pooltui("snapshot", str(core), "--format", "md")
    assert out.returncode in (0, 1), out.stderr
    assert "string_at" in out.stdout and "SIGSEGV" in out.stdout
    assert f"### pid {proc.pid} — main (crashed)" in out.stdout, "the process badge says it crashed"
    saved = tmp_path / "crash.json"
    assert _pooltui("snapshot", str(core), "-o", str(saved)).returncode in (0, 1)
    assert _pooltui("diff", str(saved), str(saved)).returncode == 0, "a core's report loads back like any report"


@pytest.mark.parametrize("target", interpreter_params(("3.11",)), indirect=True)
def test_cores_that_are_cut_foreign_or_empty_are_refused_in_one_line(target, tmp_path):
    proc, _version = target
    subprocess.run(["gcore", "-o", str(tmp_path / "g"), str(proc.pid)], capture_output=True, check=True, timeout=120)
    whole = (tmp_path / f"g.{proc.pid}").read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("not a core\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    cases = [shutil.which("ls") or "/bin/ls", str(text), str(empty)]
    for cut in (4, 63, 64, 200, 4096, len(whole) // 2, len(whole) - 1):
        path = tmp_path / f"cut-{cut}"
        path.write_bytes(whole[:cut])
        cases.append(str(path))
    for case in cases:
        for command in ("snapshot", "open"):
            out = _pooltui(command, case)
            assert out.returncode == 2, (command, case, out.stdout, out.stderr)
            assert "Traceback" not in out.stderr
            said = [line for line in out.stderr.splitlines() if line.strip()]
            assert said and said[0].startswith("pooltui: "), (command, case, out.stderr)
            if command == "snapshot" or case not in (str(text), str(empty)):  # a text file is a bad report, in the report loader's words
                assert len(said) == 1, (command, case, out.stderr)


@pytest.mark.parametrize("target", interpreter_params(("3.11",)), indirect=True)
def test_a_core_whose_binaries_on_disk_differ_is_said_and_not_read(target, tmp_path):
    """--sysroot with another interpreter's library in place of the one the core names:
    refused with the build-ids, never read as stacks."""
    proc, _version = target
    subprocess.run(["gcore", "-o", str(tmp_path / "g"), str(proc.pid)], capture_output=True, check=True, timeout=120)
    core = tmp_path / f"g.{proc.pid}"
    from pooltui.capture.memory.coreimage import CoreImage

    with CoreImage(str(core)) as image:
        libpython = next(m.path for m in image.maps if "libpython3.11" in m.path)
    other = next(Path(os.path.dirname(libpython)).parent.parent.glob("3.1[023]*/lib/libpython3.1*.so.1.0"), None)
    if other is None:
        pytest.skip("no other libpython here to swap in")
    sysroot = tmp_path / "sysroot"
    (sysroot / libpython.lstrip("/")).parent.mkdir(parents=True)
    shutil.copyfile(other, sysroot / libpython.lstrip("/"))
    out = _pooltui("snapshot", str(core), "--sysroot", str(sysroot), "--format", "md")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "does not match the core" in out.stderr and "build-id" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


POOL = """
import ctypes, multiprocessing, os, resource, sys, threading, time
FIFO = sys.argv[1]

def init():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

def parse_record(task, api_key="sk-live-123", label="\x1b[2J"):
    open("started-%d" % task, "w").close()
    if task == 0:
        with open(FIFO) as go:
            go.read(1)
        ctypes.string_at(0)  # a C extension's bad pointer
    time.sleep(3600)
    return task

def ready():
    while not all(os.path.exists("started-%d" % i) for i in range(2)):
        time.sleep(0.05)
    sys.stdout.write("ready\\n")
    sys.stdout.flush()

if __name__ == "__main__":
    threading.Thread(target=ready).start()
    pool = multiprocessing.Pool(2, initializer=init)  # fork: the default on Linux before 3.14 (2.7 has no get_context)
    pool.map(parse_record, range(2), chunksize=1)
"""


@pytest.mark.skipif(not _kernel_writes_core_here(), reason="core_pattern is not 'core' here: the kernel writes cores elsewhere")
@pytest.mark.parametrize("python", interpreter_params(("2.7", "3.8", "3.11", "3.13")))
def test_a_worker_that_segfaults_mid_task_is_a_lost_task_with_its_last_stack(python, tmp_path):
    """Two samples: the worker in its task, then gone with a core; the lost_task verdict
    carries the stack the core holds (the line that crashed), found where core_pattern says,
    and the task it ran (the pool's task tuple: function and arguments, redacted and
    escaped); so does the death's event, which names the core."""
    import asyncio

    from pooltui.capture import procs
    from pooltui.sources import LiveSource

    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    (tmp_path / "pool.py").write_text(POOL)
    proc = subprocess.Popen([python, str(tmp_path / "pool.py"), str(fifo)], cwd=tmp_path, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        source = LiveSource(proc.pid)
        first = asyncio.run(source.capture())
        victim = next(p for p in first.processes if any(f.function == "parse_record" and f.line == 11 for t in p.threads for f in t.frames))
        with open(fifo, "w") as go:
            go.write("x")
        for _ in range(600):  # the pool reaps the dead worker (after the kernel wrote its core) and forks another
            kids = {p.pid for p in procs.walk_tree(proc.pid)}
            if victim.pid not in kids and len(kids) >= 3:
                break
            time.sleep(0.1)  # polling for a state, not waiting a fixed time
        second = asyncio.run(source.capture())
        lost = [d for d in second.diagnoses if d.kind == "lost_task" and victim.pid in d.pids]
        assert lost, [d.summary for d in second.diagnoses]
        text = "\n".join(lost[0].evidence)
        assert "killed by SIGSEGV (core dumped)" in text
        assert f"from the core file {tmp_path / 'core'}" in text, text
        assert "parse_record at" in text and "ctypes.string_at(0)" in text and "string_at at" in text, text
        assert "took SIGSEGV at address 0x0 (SEGV_MAPERR, no mapping at that address)" in text, text
        task = next((line for line in lost[0].evidence if line.startswith("the task it was running (from its core): ")), None)
        assert task is not None, text  # the evidence says why the task was not read (a CI run at load 137 lost it, unexplained)
        # py-spy formats 3.13's small int from a core only at times ("?": it could not tell the value's type)
        numbers = ("0", "?") if "3.13" in python else ("0",)
        assert any(f"parse_record(task={n}, api_key=<redacted>, label=" in task for n in numbers), task
        assert "sk-live" not in text and "\x1b" not in text and "\\x1b[2J" in task, task
        (event,) = [e for e in second.events if e.kind == "process_exited" and e.pid == victim.pid]
        assert f"core {tmp_path / 'core'} (enter opens it)" in event.detail and "running parse_record(task=" in event.detail, event
        assert source.core_of(victim.pid) == str(tmp_path / "core")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the pool's workers too
        proc.wait()


@pytest.mark.parametrize("target", interpreter_params(("2.7",)), indirect=True)
def test_a_version_neither_reader_takes_from_a_core_is_said_not_silenced(target, tmp_path):
    """2.7 from a gcore: pooltui's own reader starts at 3.8 and py-spy reads only the kernel's
    cores of it: one line that says so, exit 2 (never an empty report)."""
    proc, _version = target
    subprocess.run(["gcore", "-o", str(tmp_path / "g"), str(proc.pid)], capture_output=True, check=True, timeout=120)
    out = _pooltui("snapshot", str(tmp_path / f"g.{proc.pid}"))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "Python 2.7 is not readable from a core" in out.stderr and "py-spy" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


CRASH_AS_NOBODY = """
import ctypes, multiprocessing, os, resource, time

def init():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

def parse_record(task, path="/srv/x"):
    ctypes.string_at(0)

if __name__ == "__main__":
    pool = multiprocessing.Pool(1, initializer=init)
    pool.apply_async(parse_record, (7,))  # the worker dies in it: no answer ever
    for _ in range(2400):
        if os.path.exists("core"):
            break
        time.sleep(0.05)  # polling for the core, not waiting a fixed time
    pool.terminate()  # joins the dead worker: reaped once the kernel has written its core
"""


@pytest.mark.skipif(not _kernel_writes_core_here(), reason="core_pattern is not 'core' here: the kernel writes cores elsewhere")
@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"), reason="needs root and /usr/bin/python3 to run as nobody")
def test_py_spy_reads_a_users_core_with_that_users_rights_only():
    """The task's arguments come from py-spy, which opens the binaries a core names unchecked:
    run by root over nobody's core it runs as nobody (a core nobody cannot read is not read)."""
    import tempfile

    from pooltui.capture.crashtask import task_from_core

    where = tempfile.mkdtemp(prefix="pooltui-nobody-")
    try:
        os.chmod(where, 0o755)
        shutil.chown(where, "nobody")
        Path(where, "crash.py").write_text(CRASH_AS_NOBODY)
        done = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "crash.py"], cwd=where, capture_output=True, timeout=60)
        assert done.returncode == 0, done
        core = Path(where, "core")
        assert core.stat().st_uid != 0, "the kernel writes a core as the crashed process's user"
        task, why = task_from_core(str(core), 0, None)
        assert task is not None and task.text.startswith("parse_record(task=7, path="), (task, why)
        core.chmod(0)  # root could read it still; its owner cannot
        task, why = task_from_core(str(core), 0, None)
        assert task is None and "Permission" in why, (task, why)
    finally:
        shutil.rmtree(where)
