"""pooltui.capture.memory against live targets, on every interpreter installed.

Each target (tests/targets/lock_target.py) holds and waits on locks in known places and
reports the truth from the inside (id(), thread idents, native tids, __basicsize__);
every assertion compares what the reader finds from the outside with that truth.
"""

from __future__ import annotations

import glob
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from pooltui.capture import memory
from pooltui.capture.errors import PermissionDenied, ProcessGone, Unsupported

pytestmark = pytest.mark.live

TARGET = Path(__file__).resolve().parent.parent / "targets" / "lock_target.py"
VERSIONS = ("2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def pyenv_root() -> str:
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return os.path.expanduser("~/.pyenv")


def find_python(version: str) -> str | None:
    found = sorted(glob.glob(os.path.join(pyenv_root(), "versions", version + ".*", "bin", "python")), reverse=True)
    return next((p for p in found if os.access(p, os.X_OK)), None)


def interpreters():
    for v in VERSIONS:
        python = find_python(v)
        marks = [] if python else [pytest.mark.skip(reason=f"no Python {v} under {pyenv_root()}/versions")]
        yield pytest.param((v, python), id=f"py{v}", marks=marks)


@dataclass
class Target:
    proc: subprocess.Popen
    truth: dict
    version: tuple

    @property
    def pid(self) -> int:
        return self.truth["pid"]

    def id(self, name: str) -> int:
        return self.truth["ids"][name]

    def thread(self, name: str) -> dict:
        return self.truth["threads"][name]


def read_ready(proc: subprocess.Popen, fifo: Path, stderr_path: Path, timeout: float = 90) -> dict:
    """The truth line from the FIFO. The test holds it open read-write, so it never sees
    EOF and never blocks on open; it polls the target's exit meanwhile."""
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            if proc.poll() is not None:
                pytest.fail(f"target exited with {proc.returncode}: {stderr_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"target not ready after {timeout}s: {stderr_path.read_text()}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                buf += os.read(fd, 1 << 20)
        return json.loads(buf.decode())
    finally:
        os.close(fd)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the target and its fork child
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture(scope="module", params=list(interpreters()))
def target(request, tmp_path_factory):
    version, python = request.param
    tmp = tmp_path_factory.mktemp("lock-target-" + version)
    fifo = tmp / "ready"
    os.mkfifo(fifo)
    stderr_path = tmp / "stderr"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([python, str(TARGET), "--ready", str(fifo)], stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    request.addfinalizer(lambda: kill_group(proc))
    truth = read_ready(proc, fifo, stderr_path)
    assert truth["version"] == [int(x) for x in version.split(".")]
    return Target(proc, truth, tuple(truth["version"]))


@pytest.fixture
def mem(target):
    with memory.TargetMemory(target.pid, target.version) as m:
        yield m


def rlock_type(target: Target) -> str:
    return "_RLock" if target.version[0] == 2 else "_thread.RLock"


def lock_type(target: Target) -> str:
    return "thread.lock" if target.version[0] == 2 else "_thread.lock"


# ---------------------------------------------------------------- lock objects


def test_type_names_and_sizes(target, mem):
    """The reader's basicsize table is the target's own __basicsize__ for each C lock type."""
    expected = {name: size for name, _kind, size in mem.layout.lock_types}
    for name, size in target.truth["types"].items():
        if name in expected:
            assert expected[name] == size, name
    assert mem.type_name(target.id("plain")) == lock_type(target)
    assert mem.type_name(target.id("ml_semlock")) == "_multiprocessing.SemLock"
    assert mem.type_name(target.id("guarded")) == "Guarded"
    assert mem.type_name(target.id("int_obj")) == "int"


def test_rlock_held_twice(target, mem):
    lock = mem.read_lock(target.id("rlock"))
    assert lock is not None
    assert lock.type_name == rlock_type(target)
    assert lock.kind == "rlock"
    assert lock.locked is True
    assert lock.owner_ident == target.thread("holder")["ident"]
    assert lock.count == 2
    assert lock.sem_value == 0
    assert lock.sem_nwaiters == 1  # waiter_rlock


def test_rlock_in_slots_held_once(target, mem):
    lock = mem.read_lock(target.id("slots_lock"))
    assert lock is not None and lock.kind == "rlock"
    assert (lock.locked, lock.owner_ident, lock.count) == (True, target.thread("holder")["ident"], 1)


def test_free_locks(target, mem):
    rlock = mem.read_lock(target.id("free_rlock"))
    assert rlock is not None
    assert (rlock.locked, rlock.owner_ident, rlock.count, rlock.sem_value) == (False, None, 0, 1)
    plain = mem.read_lock(target.id("free_lock"))
    assert plain is not None
    assert (plain.kind, plain.locked, plain.owner_ident, plain.sem_value, plain.sem_nwaiters) == ("lock", False, None, 1, 0)


def test_plain_lock_held(target, mem):
    lock = mem.read_lock(target.id("plain"))
    assert lock is not None
    assert lock.type_name == lock_type(target)
    assert (lock.kind, lock.locked, lock.owner_ident, lock.count) == ("lock", True, None, None)
    assert (lock.sem_value, lock.sem_nwaiters) == (0, 1)


def test_python_rlock(target, mem):
    """3.x threading._PyRLock: the pure-Python RLock (what 2.7's RLock always is)."""
    if "py_rlock" not in target.truth["ids"]:
        pytest.skip("2.7: threading.RLock is already the Python _RLock (test_rlock_held_twice)")
    lock = mem.read_lock(target.id("py_rlock"))
    assert lock is not None and lock.type_name == "_RLock"
    assert (lock.locked, lock.owner_ident, lock.count) == (True, target.thread("holder")["ident"], 2)
    assert lock.inner_addr and mem.read_lock(lock.inner_addr).sem_addr == lock.sem_addr


def test_semlocks(target, mem):
    mpholder = target.thread("mpholder")["ident"]
    lock = mem.read_lock(target.id("ml_semlock"))
    assert lock is not None
    assert (lock.type_name, lock.kind, lock.semlock_kind, lock.maxvalue) == ("_multiprocessing.SemLock", "semlock", "SEMAPHORE", 1)
    assert (lock.locked, lock.count, lock.owner_ident, lock.sem_value, lock.sem_nwaiters) == (True, 1, mpholder, 0, 1)
    assert lock.name is None  # fork context: unlinked at once
    rlock = mem.read_lock(target.id("mrl_semlock"))
    assert rlock is not None
    assert (rlock.semlock_kind, rlock.locked, rlock.count, rlock.owner_ident) == ("RECURSIVE_MUTEX", True, 2, mpholder)
    assert mem.read_lock(target.id("ml")) is None  # the Python wrapper is not the lock
    if target.truth["spawn_name"]:
        spawn = mem.read_lock(target.id("spawn_semlock"))
        assert spawn is not None
        assert (spawn.name, spawn.locked, spawn.count, spawn.owner_ident) == (target.truth["spawn_name"], False, 0, None)


def test_not_a_lock(target, mem):
    assert mem.read_lock(target.id("guarded")) is None
    assert mem.read_lock(target.id("int_obj")) is None
    assert mem.read_lock(8) is None  # unreadable
    assert mem.read_lock(target.id("guarded") + 8) is None  # not an object start
    with pytest.raises(memory.MemoryFault):
        mem.read(8, 8)


# ---------------------------------------------------------------- futex waits


def test_waiters_futex_is_lock_sem(target, mem):
    calls = memory.thread_syscalls(target.pid)
    assert set(calls) == {t["tid"] for t in target.truth["threads"].values()}
    for thread, lock_name in target.truth["waits"].items():
        call = calls[target.thread(thread)["tid"]]
        lock = mem.read_lock(target.id(lock_name))
        assert lock is not None, lock_name
        assert call.futex_addr == lock.sem_addr, (thread, call)
        assert call.shared is (lock.kind == "semlock"), (thread, call)
    for thread in ("holder", "mpholder", "MainThread"):
        assert calls[target.thread(thread)["tid"]].futex_addr is None  # asleep in time.sleep


def test_thread_syscalls_gone():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    with pytest.raises(ProcessGone):
        memory.thread_syscalls(proc.pid)
    with pytest.raises(ProcessGone):
        memory.TargetMemory(proc.pid, (3, 11))


# ---------------------------------------------------------------- attributes


def test_attrs_and_resolve(target, mem):
    assert mem.resolve(target.id("guarded"), ["lock"]) == target.id("rlock")
    assert mem.resolve(target.id("root"), ["a", "b", "lock"]) == target.id("nested_lock")
    assert mem.resolve(target.id("root"), ["a", "nope", "lock"]) is None
    assert mem.resolve(target.id("mp_user"), ["ml", "_semlock"]) == target.id("ml_semlock")
    slotted = mem.attrs(target.id("slotted"))
    assert slotted.get("lock") == target.id("slots_lock") and "before" in slotted
    both = mem.attrs(target.id("both"))
    assert (both.get("s_lock"), both.get("d_lock")) == (target.id("both_s_lock"), target.id("both_d_lock"))
    many = mem.attrs(target.id("many"))
    assert len(many) == target.truth["many_attr_count"] == 46
    assert many["lock"] == target.id("many_lock") and "attr_44" in many
    mat = mem.attrs(target.id("mat"))
    assert (mat.get("lock"), mat.get("late_lock")) == (target.id("mat_lock"), target.id("mat_late_lock"))
    assert mem.attrs(target.id("rep")).get("lock") == target.id("rep_lock")
    assert mem.attrs(target.id("old")).get("lock") == target.id("old_lock")
    assert mem.attrs(target.id("int_obj")) == {}


def test_find_locks(target, mem):
    found = {path: lock.addr for path, lock in mem.find_locks([("self", target.id("guarded"))])}
    assert found == {"self.lock": target.id("rlock"), "self.plain": target.id("plain")}
    found = {path: lock.addr for path, lock in mem.find_locks([("self", target.id("root"))])}
    assert found == {"self.a.b.lock": target.id("nested_lock")}
    assert mem.find_locks([("self", target.id("root"))], depth=2) == []
    found = {path: lock.addr for path, lock in mem.find_locks([("self", target.id("mp_user"))])}
    assert found == {"self.ml._semlock": target.id("ml_semlock")}
    found = {path: lock.addr for path, lock in mem.find_locks([("self", target.id("slotted")), ("waiter", target.id("cond_waiter"))])}
    assert found == {"self.lock": target.id("slots_lock"), "waiter": target.id("cond_waiter")}
    cond = {lock.addr: path for path, lock in mem.find_locks([("self", target.id("cond"))])}
    prefix = "self._Condition__" if target.version[0] == 2 else "self._"
    assert cond.get(target.id("cond_lock")) == prefix + "lock"
    assert cond.get(target.id("cond_waiter")) == prefix + "waiters[0]"


def test_find_locks_caps_work(target, mem):
    wide = target.truth["wide_item_locks"]
    found = mem.find_locks([("self", target.id("wide"))], depth=3, max_objects=50)
    assert 0 < len(found) < 50
    assert {lock.addr for _p, lock in found} <= set(wide)
    assert all(path.startswith("self.items[") and path.endswith("].lock") for path, _l in found)


def test_2_7_rlock_futex_is_its_block(target, mem):
    """2.7: the waiter sleeps on the _RLock's __block; read_lock of the _RLock says so."""
    if target.version[0] != 2:
        pytest.skip("3.x RLock is the C _thread.RLock")
    lock = mem.read_lock(target.id("rlock"))
    assert lock.inner_addr == mem.attrs(target.id("rlock"))["_RLock__block"]
    assert mem.read_lock(lock.inner_addr).sem_addr == lock.sem_addr


# ---------------------------------------------------------------- fork: shared semaphore, orphaned RLock


def test_semaphore_identity_in_fork_child(target, mem):
    child = target.truth["fork_child"]
    parent_lock = mem.read_lock(target.id("ml_semlock"))
    with memory.TargetMemory(child, target.version) as cmem:
        child_lock = cmem.read_lock(target.id("ml_semlock"))  # fork keeps the address
    assert child_lock is not None and child_lock.kind == "semlock"
    # a raw os.fork() copies the per-process bookkeeping: the child "has" count 1 and the
    # parent's mpholder as last_tid although it never acquired it (multiprocessing's own
    # Process bootstrap resets them; os.fork does not). count > 0 alone is no proof of holding.
    assert (child_lock.count, child_lock.owner_ident) == (1, target.thread("mpholder")["ident"])
    in_parent = memory.semaphore_identity(target.pid, parent_lock.sem_addr)
    in_child = memory.semaphore_identity(child, child_lock.sem_addr)
    assert in_parent is not None and in_parent[2].startswith("/dev/shm/sem.")
    assert in_child is not None and in_child[:2] == in_parent[:2]
    other = memory.semaphore_identity(target.pid, mem.read_lock(target.id("mrl_semlock")).sem_addr)
    assert other is not None and other[1] != in_parent[1]  # another semaphore, another inode
    assert memory.semaphore_identity(target.pid, mem.read_lock(target.id("plain")).sem_addr) is None  # private memory


def test_orphaned_rlock_in_fork_child(target):
    child = target.truth["fork_child"]
    bgholder = target.thread("bgholder")["ident"]
    calls = memory.thread_syscalls(child)
    assert list(calls) == [child]  # fork leaves one thread: the forking main thread
    with memory.TargetMemory(child, target.version) as cmem:
        lock = cmem.read_lock(target.id("fork_lock"))
    assert lock is not None and lock.kind == "rlock"
    assert (lock.locked, lock.owner_ident, lock.count) == (True, bgholder, 1)
    assert lock.owner_ident != target.thread("MainThread")["ident"]  # the child's only thread
    assert calls[child].futex_addr == lock.sem_addr


# ---------------------------------------------------------------- heap scan (core files use it)


def test_locks_in(target):
    from pooltui.capture.memory import scan

    with memory.TargetMemory(target.pid, target.version, memory.SCAN_BUDGET) as mem:
        locks = {lock.addr: lock for lock in scan.locks_in(mem)}
        names = ["rlock", "plain", "nested_lock", "slots_lock", "ml_semlock", "mrl_semlock", "cond_waiter", "free_lock", "free_rlock", "fork_lock"]
        for name in names:
            assert target.id(name) in locks, name
        assert set(target.truth["wide_item_locks"]) <= set(locks)
        assert locks[target.id("rlock")].owner_ident == target.thread("holder")["ident"]
        assert all(lock.sem_addr for lock in locks.values())
        assert all(mem.read_lock(addr) is not None for addr in locks)
        # with hints, the same set
        hinted = scan.locks_in(mem, [target.id("rlock"), target.id("plain"), target.id("ml_semlock")])
        assert {lock.addr for lock in hinted} >= set(target.id(n) for n in names)


# ---------------------------------------------------------------- refusals


def test_unsupported_versions(target):
    with pytest.raises(Unsupported, match=r"3\.14"):
        memory.TargetMemory(target.pid, (3, 14))
    with pytest.raises(Unsupported):
        memory.TargetMemory(target.pid, (3, 5))
    wrong = (3, 9) if target.version != (3, 9) else (3, 10)
    with pytest.raises(Unsupported, match="runs Python"):
        memory.TargetMemory(target.pid, wrong)


def test_permission_denied(target):
    """An unprivileged reader gets PermissionDenied, not a crash or empty answers."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        f"sys.path.append({str(Path(msgspec.__file__).resolve().parents[1])!r})\n"  # the model's records: another Python 3 may lack it
        "from pooltui.capture import memory\n"
        "from pooltui.capture.errors import PermissionDenied\n"
        "out = []\n"
        "for call in (lambda: memory.thread_syscalls(int(sys.argv[1])), lambda: memory.TargetMemory(int(sys.argv[1]), (3, 11))):\n"
        "    try:\n"
        "        call()\n"
        "        out.append('ok')\n"
        "    except PermissionDenied:\n"
        "        out.append('denied')\n"
        "print(' '.join(out))\n"
    )

    def drop():
        os.setgid(65534)
        os.setuid(65534)

    python = next((p for p in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3") if runs_as_nobody(p, drop)), None)
    if python is None:
        pytest.skip("no Python 3 interpreter the user 'nobody' may run")
    out = subprocess.run([python, "-c", script, str(target.pid)], capture_output=True, text=True, preexec_fn=drop, timeout=60)
    if out.returncode != 0 and "Permission denied" in out.stderr and "pooltui" in out.stderr:
        pytest.skip("the user 'nobody' cannot read the checkout: " + out.stderr.strip().splitlines()[-1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["denied", "denied"]
    assert PermissionDenied.code == "permission_denied"


def runs_as_nobody(python: str, drop) -> bool:
    try:
        code = "import sys; sys.exit(0 if sys.version_info >= (3, 7) else 1)"
        return subprocess.run([python, "-c", code], capture_output=True, preexec_fn=drop, timeout=60).returncode == 0
    except OSError:
        return False


# ---------------------------------------------------------------- timings (printed only)


def test_timings(target, mem):
    calls = memory.thread_syscalls(target.pid)
    t0 = time.perf_counter()
    for _ in range(20):
        memory.thread_syscalls(target.pid)
    per_sweep = (time.perf_counter() - t0) / 20
    fresh = memory.TargetMemory(target.pid, target.version)
    try:
        t0 = time.perf_counter()
        found = fresh.find_locks([("self", target.id("cond"))])
        find_cold = time.perf_counter() - t0
    finally:
        fresh.close()
    assert found
    print(
        f"\n{target.version}: thread_syscalls {len(calls)} threads {per_sweep * 1e3:.2f} ms;",
        f"find_locks(self=Condition) cold {find_cold * 1e3:.2f} ms",
    )
    # figures, not asserted: a loaded machine stretches any duration (docs/speed.md has the measured ones)


def test_with_block_holder_from_the_value_stack(target):
    """A plain Lock held in `with` (by 'withholder') has one live __exit__, on the frame
    of withholder(); so has a BoundedSemaphore held in a `with` nested in it (its __exit__
    a bound Python method); g.plain, taken with acquire(), has none on its holder's frame."""
    maps = memory.read_maps(target.pid)
    with memory.TargetMemory(target.pid, target.version, memory.SCAN_BUDGET) as mem:  # it searches all memory
        found = memory.exit_frames(mem, maps, [target.id("with_plain"), target.id("plain"), target.id("with_sem")])
    exits, frames = found[target.id("with_plain")]
    assert exits == 1 and frames == [(str(TARGET), "withholder")], found
    exits, frames = found[target.id("with_sem")]
    assert exits == 1 and frames == [(str(TARGET), "withholder")], found
    exits, frames = found[target.id("plain")]
    assert exits == 1  # the waiter entering `with self.plain:` (its __exit__ is looked up first)
    assert all(name == "work_plain" for _file, name in frames), frames  # never the acquire() holder


def test_huge_dict_is_read_in_bounded_part(target, mem):
    before = mem.spent
    entries = mem._dict_entries(target.id("big_dict"), limit=10)
    # 2.7 keeps a dict as one hash table, in no order: a table that large is left unread
    assert len(entries) == (0 if target.version[0] == 2 else 10)
    assert mem.spent - before < 4096  # ten entries and the headers, not 100,000 entries


def test_read_budget_says_not_read(target):
    small = memory.TargetMemory(target.pid, target.version, memory.Budget(max_bytes=1 << 16))
    with small, pytest.raises(memory.BudgetExceeded, match=r"not read \(budget"):
        small._dict_entries(target.id("big_dict"), limit=10**6)  # 100,000 entries: 2.4 MB
    late = memory.TargetMemory(target.pid, target.version, memory.Budget(seconds=0))
    with late, pytest.raises(memory.BudgetExceeded):
        late.read_lock(target.id("rlock"))


# ---------------------------------------------------------------- checks that need no special build


def test_build_checks():
    glibc = ["/usr/lib/x86_64-linux-gnu/libc.so.6"]
    assert memory.check_build((3, 11), ["/usr/bin/python3.11", *glibc]) is None
    assert memory.check_build((3, 6), ["/x/bin/python3.6m", "/x/lib/libpython3.6m.so.1.0", *glibc]) is None  # pymalloc flag
    assert "free-threaded" in memory.check_build((3, 13), ["/usr/bin/python3.13t", *glibc])
    assert "free-threaded" in memory.check_build((3, 13), ["/opt/lib/libpython3.13t.so.1.0", *glibc])
    assert "free-threaded" in memory.check_build((3, 13), ["/x/_json.cpython-313t-x86_64-linux-gnu.so", *glibc])
    assert "debug" in memory.check_build((3, 12), ["/usr/bin/python3.12d", *glibc])
    assert "musl" in memory.check_build((3, 11), ["/usr/bin/python3.11", "/lib/ld-musl-x86_64.so.1"])
    assert "musl" in memory.check_build((3, 11), ["/x/_json.cpython-311-x86_64-linux-musl.so", *glibc])
    assert "glibc" in memory.check_build((3, 11), ["/usr/bin/python3.11"])
    assert "runs Python 3.12" in memory.check_build((3, 11), ["/usr/lib/libpython3.12.so.1.0", *glibc])
    assert memory.check_build((3, 11), ["/usr/bin/uwsgi", "/usr/lib/libpython3.11.so.1.0", *glibc]) is None


def test_elf_checks():
    x86_64 = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x03\x00" + b"\x3e\x00" + b"\0" * 44
    assert memory.check_elf(x86_64) is None
    assert "x86-64" in memory.check_elf(x86_64[:18] + b"\xb7\x00" + x86_64[20:])  # aarch64
    assert "x86-64" in memory.check_elf(x86_64[:4] + b"\x01" + x86_64[5:])  # 32-bit
    assert "ELF" in memory.check_elf(b"#!/bin/sh\n" + b"\0" * 20)


def test_layout_table():
    assert set(memory.LAYOUTS) == {(2, 7), (3, 6), (3, 7), (3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13)}
    for version in ((3, 14), (3, 15), (3, 5), (2, 6), (4, 0)):
        with pytest.raises(Unsupported):
            memory.layout_for(version)


class _FakeMemory(memory.TargetMemory):
    """A TargetMemory whose raw lock reads are scripted (no process)."""

    def __init__(self, reads, type_name="_thread.RLock", kind="rlock", size=48):
        self.pid, self.version, self.layout = 0, (3, 11), memory.LAYOUTS[(3, 11)]
        self._fd = None
        self.reads = list(reads)
        self.info = memory._TypeInfo(1, type_name, size, 0, 0, 0, 0, 0)

    def _type_of(self, obj):
        return self.info

    def _read_c_lock(self, obj, type_name, kind, size):
        return self.reads.pop(0)


def _rlock(owner, count):
    return memory.LockObject(0x1000, "_thread.RLock", "rlock", 0x2000, count > 0, owner or None, count, 0, 1)


def test_read_lock_rereads_once_when_torn():
    mem = _FakeMemory([(_rlock(0, 1), False), (_rlock(7, 1), True)])
    lock = mem.read_lock(0x1000)
    assert (lock.owner_ident, lock.count, lock.locked) == (7, 1, True)
    mem = _FakeMemory([(_rlock(0, 1), False), (_rlock(0, 1), False)])
    lock = mem.read_lock(0x1000)
    assert (lock.owner_ident, lock.count, lock.locked) == (None, None, None)  # never a guess
    assert lock.sem_addr == 0x2000
    assert _FakeMemory([(_rlock(7, 2), True)]).read_lock(0x1000).count == 2


def test_unknown_basicsize_is_unsupported():
    mem = _FakeMemory([], size=56)
    with pytest.raises(Unsupported, match="basicsize"):
        mem.read_lock(0x1000)


def test_process_gone_while_reading():
    code = "import sys, time; print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"  # libc mapped, interpreter up
        version = sys.version_info[:2]
        mem = memory.TargetMemory(proc.pid, version)
        addr = memory.read_maps(proc.pid)[0].start
        assert mem.read(addr, 4) == b"\x7fELF"
        proc.kill()
        deadline = time.monotonic() + 10
        while memory.alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(ProcessGone):  # a zombie: its memory is gone
            mem.read(addr, 4)
        proc.wait()
        with pytest.raises(ProcessGone):
            mem.read(addr, 4)
        with pytest.raises(ProcessGone):  # typed, not "no lock here"
            mem.read_lock(addr + 64)
        mem.close()
    finally:
        proc.kill()
        proc.wait()
