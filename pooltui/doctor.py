"""``pooltui doctor [PID]``: can pooltui attach here, and if not, what to change.

Each check is one line: ``✔`` fine, ``✘`` stops pooltui from reading stacks (with a
fix), ``!`` worth knowing (with a fix), ``·`` a plain fact. Without a PID the checks
are about this machine and this user (py-spy, privileges, Yama, containers); with a
PID the target and each of its descendants are also tried for real: one py-spy dump
each, timed. Nothing is ever sent to a target: py-spy reads it and detaches.

The permission rules checked here are the kernel's ``ptrace_may_access`` (same uid or
CAP_SYS_PTRACE) plus Yama's ``ptrace_scope``, which also governs
``process_vm_readv`` and ``/proc/PID/mem``, the two ways py-spy and pooltui read.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import psutil

from pooltui.capture import exits, procfs, procs, pyspy
from pooltui.capture.errors import CaptureError, NotPython, ProcessGone, PySpyMissing
from pooltui.report.text import clean

OK, FAIL, WARN, INFO = "ok", "fail", "warn", "info"
MARKS = {OK: "✔", FAIL: "✘", WARN: "!", INFO: "·"}
ASCII_MARKS = {OK: "ok", FAIL: "FAIL", WARN: "warn", INFO: "-"}

CAP_SYS_PTRACE = 19  # linux/capability.h
SCOPE_SETTING = "sys/kernel/yama/ptrace_scope"
SCOPE_FILE = f"{procfs.SYSTEM_ROOT}/{SCOPE_SETTING}"  # where a user lowers it
SCOPE_MEANING = {
    0: "classic ptrace permissions: any process of the same user can be read",
    1: "restricted ptrace: only a process's ancestors may read it, unless the reader has CAP_SYS_PTRACE",
    2: "admin-only attach: only readers with CAP_SYS_PTRACE",
    3: "no attach: ptrace is disabled for everyone, root included, until reboot",
}
_CONTAINER_CGROUP = ("docker", "kubepods", "containerd", "libpod", "lxc", "garden")


@dataclass(frozen=True)
class Check:
    status: str  # ok | fail | warn | info
    text: str
    fix: str = ""
    dump: bool = False  # the result of a trial dump


@dataclass(frozen=True)
class Host:
    """The facts about this reader that decide whether ptrace is allowed."""

    euid: int
    cap_sys_ptrace: bool
    scope: Optional[int]  # None: no Yama LSM
    container: Optional[str]  # the evidence ("/.dockerenv"), None when not in a container


def has_cap(status: Optional[procfs.Status], bit: int = CAP_SYS_PTRACE) -> bool:
    """Whether ``CapEff`` in a process's status has capability ``bit``."""
    caps = status.effective_caps if status is not None else None
    return caps is not None and bool(caps >> bit & 1)


def _setting(name: str) -> Optional[str]:
    try:
        return procfs.setting(name)
    except CaptureError:
        return None


def ptrace_scope(text: Optional[str]) -> Optional[int]:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def container_evidence() -> Optional[str]:
    for marker in ("/.dockerenv", "/run/.containerenv"):
        if os.path.exists(marker):
            return marker
    for pid in (1, "self"):
        try:
            text = procfs.cgroup(pid).lower()
        except CaptureError:
            continue
        for hint in _CONTAINER_CGROUP:
            if hint in text:
                return f"{hint} in {procfs.path(pid, 'cgroup')}"
    return None


def read_host() -> Host:
    return Host(
        euid=os.geteuid(),
        cap_sys_ptrace=has_cap(procfs.status_or_none("self")),
        scope=ptrace_scope(_setting(SCOPE_SETTING)),
        container=container_evidence(),
    )


def _fix_for_privileges(host: Host) -> str:
    if host.container:
        return "start the container with --cap-add SYS_PTRACE (Kubernetes: securityContext.capabilities.add: [SYS_PTRACE])"
    if host.euid != 0:
        return "run as root: sudo pooltui ..."
    return "run with CAP_SYS_PTRACE kept (it was dropped, e.g. by capsh or systemd CapabilityBoundingSet)"


def check_pyspy() -> tuple[Check, Optional[str]]:
    """py-spy's version and path, and the path to use for the trial dumps."""
    try:
        exe = pyspy.find_pyspy()
    except PySpyMissing as exc:
        return Check(FAIL, exc.message, exc.help), None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(FAIL, f"py-spy at {exe} does not run: {exc}", "reinstall it: pip install --force-reinstall py-spy"), None
    version = out.stdout.strip() or out.stderr.strip()
    if out.returncode != 0 or not version:
        return Check(FAIL, f"py-spy at {exe} failed: {version or f'exit {out.returncode}'}", "reinstall it: pip install py-spy"), None
    return Check(OK, f"{version} ({exe})"), exe


def check_privileges(host: Host) -> Check:
    if host.cap_sys_ptrace:
        who = "running as root" if host.euid == 0 else f"uid {host.euid}"
        return Check(OK, f"{who} with CAP_SYS_PTRACE: may read any user's processes")
    if host.euid == 0:
        return Check(WARN, "running as root but without CAP_SYS_PTRACE: only processes of uid 0 can be read", _fix_for_privileges(host))
    return Check(WARN, f"not root (uid {host.euid}), no CAP_SYS_PTRACE: only your own processes can be read", _fix_for_privileges(host))


def check_scope(host: Host) -> Check:
    if host.scope is None:
        return Check(INFO, f"no Yama ptrace_scope ({SCOPE_FILE} absent): classic ptrace permissions")
    meaning = SCOPE_MEANING.get(host.scope, "unknown value")
    text = f"ptrace_scope={host.scope}: {meaning}"
    if host.scope == 3:
        return Check(FAIL, text, "it cannot be lowered while running: set kernel.yama.ptrace_scope = 1 in /etc/sysctl.d/ and reboot")
    if host.scope == 0 or host.cap_sys_ptrace:
        return Check(OK, text)
    fix = _fix_for_privileges(host)
    if host.scope == 1 and not host.container:
        fix += ", or allow same-user reads: echo 0 | sudo tee " + SCOPE_FILE
    return Check(FAIL, text, fix)


def check_container(host: Host) -> Check:
    if host.container is None:
        return Check(INFO, "not in a container (no /.dockerenv, /run/.containerenv or container cgroup)")
    if host.cap_sys_ptrace:
        return Check(OK, f"in a container ({host.container}) with SYS_PTRACE")
    return Check(WARN, f"in a container ({host.container}) without SYS_PTRACE", _fix_for_privileges(host))


def _describe(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        cmd = "?"
    return clean(cmd, 70)  # a target's argv may hold escape sequences


async def _trial(label: str, pid: int, exe: str, timeout: float, limit: asyncio.Semaphore) -> Check:
    async with limit:
        started = time.monotonic()
        try:
            threads = await pyspy.dump(pid, pyspy.DumpOptions(timeout=timeout), exe)
        except ProcessGone:
            return Check(INFO, f"{label}: exited during the check")
        except CaptureError as exc:
            detail = exc.detail.strip().splitlines()[0] if exc.detail.strip() else ""
            said = f" (py-spy: {detail})" if detail and detail not in exc.message else ""
            fix = exc.help
            if isinstance(exc, NotPython):
                fix += " If it is Python, this py-spy may be older than its interpreter: pip install -U py-spy."
            return Check(FAIL, f"{label}: py-spy cannot read it: {exc.message}{said}", fix, dump=True)
        ms = (time.monotonic() - started) * 1000
    return Check(OK, f"{label}: py-spy read {len(threads)} Python thread(s) in {ms:.0f} ms", dump=True)


def _maps_readable(pid: int) -> bool:
    """Whether this user may read ``/proc/PID/maps``. Not ``os.access``: the file's mode is
    0444 for everyone, and the kernel's ptrace check refuses another user's at open()."""
    return procfs.read_optional(pid, "maps", 1) is not None


def _identify(label: str, proc: psutil.Process) -> tuple[Check, bool]:
    """Is it Python, which version; (check, worth a trial dump)."""
    try:
        exe = proc.exe()
    except (psutil.AccessDenied, psutil.ZombieProcess, FileNotFoundError):
        exe = ""
    except psutil.NoSuchProcess:
        return Check(INFO, f"{label}: exited during the check"), False
    version = procs.python_version(proc.pid, exe)
    if version is not None:
        return Check(OK, f"{label}: Python {version} ({_describe(proc)})"), True
    if not exe and not _maps_readable(proc.pid):
        return Check(WARN, f"{label}: cannot tell whether it is Python (no permission to read it)"), True
    return Check(INFO, f"{label}: not Python ({_describe(proc)}); shown in the tree only"), False


async def check_target(pid: int, exe: Optional[str], timeout: float = pyspy.DEFAULT_TIMEOUT) -> list[Check]:
    """The target and every descendant: exists, is Python (which), and a real trial dump."""
    try:
        root = psutil.Process(pid)
        children = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return [Check(FAIL, f"no process with pid {pid}", "give the pid of a running process of the pool (ps -ef | grep python)")]
    except psutil.AccessDenied:
        children = []
    lines: list[Check | int] = []  # a fact, or the index of a trial dump still to run
    trials = []
    limit = asyncio.Semaphore(max(2, min(8, 2 * procs.cpu_count())))

    def add(label: str, proc: psutil.Process) -> Check:
        check, python = _identify(label, proc)
        lines.append(check)
        if python and exe:
            trials.append(_trial(label, proc.pid, exe, timeout, limit))
            lines.append(len(trials) - 1)
        return check

    first = add(f"pid {pid}", root)
    if first.status == INFO and "not Python" in first.text:
        pythons = [str(c.pid) for c in children if c.pid != os.getpid() and procs.python_version(c.pid) is not None]
        hint = f"give one of its Python descendants: {', '.join(pythons[:8])}" if pythons else "give the pid of a Python process"
        lines[0] = Check(FAIL, f"pid {pid} is not Python ({_describe(root)})", hint)
    for child in children:
        if child.pid == os.getpid():
            lines.append(Check(INFO, f"child {child.pid}: this pooltui doctor itself (skipped)"))
        else:
            add(f"child {child.pid}", child)
    results = await asyncio.gather(*trials)
    return [results[x] if isinstance(x, int) else x for x in lines]


def check_exits(watcher: exits.ExitWatcher, since: float) -> Check:
    """Whether the kernel reports process exits to us (capture.exits), proved by the exit of
    the py-spy --version run check_pyspy made after ``since``."""
    unknown = "a worker its parent reaps between two refreshes shows 'exit status unknown'"
    if not watcher.working:
        fix = "keep CAP_NET_ADMIN (a container: --cap-add NET_ADMIN)" if os.geteuid() == 0 else "run pooltui as root (CAP_NET_ADMIN)"
        return Check(WARN, f"process exits: {watcher.reason}: {unknown}", fix)
    deadline = time.monotonic() + 1.0
    while not (watcher.since(since, {os.getpid()}) or watcher.heard) and time.monotonic() < deadline:
        time.sleep(0.02)
    if watcher.heard:
        return Check(OK, "process exits: the kernel reports each with its status (how a reaped worker died is known)")
    return Check(
        WARN,
        f"process exits: listening, but the kernel reported none (not in the host's pid namespace?): {unknown}",
        "run pooltui on the host, not inside a container",
    )


def run(pid: Optional[int] = None, timeout: float = pyspy.DEFAULT_TIMEOUT) -> list[Check]:
    watcher, since = exits.watcher(), time.time()
    pyspy_check, exe = check_pyspy()
    host = read_host()
    checks = [pyspy_check, check_privileges(host), check_scope(host), check_container(host), check_exits(watcher, since)]
    if pid is not None:
        checks += asyncio.run(check_target(pid, exe, timeout))
    return checks


def will_attach(checks: Sequence[Check]) -> bool:
    return not any(c.status == FAIL for c in checks)


def format_check(check: Check, unicode: bool = True) -> str:
    mark = (MARKS if unicode else ASCII_MARKS)[check.status]
    fix = f" — fix: {check.fix}" if check.fix and check.status in (FAIL, WARN) else ""
    return f"{mark} {check.text}{fix}"


def summary(checks: Sequence[Check], pid: Optional[int]) -> str:
    if will_attach(checks):
        if pid is None:
            return "pooltui can read processes here (give a PID to try a real dump)"
        read = sum(c.dump and c.status == OK for c in checks)
        return f"pooltui can attach to pid {pid}: {read} Python process(es) read"
    failed = sum(c.status == FAIL for c in checks)
    return f"pooltui cannot attach: {failed} problem(s) above"
