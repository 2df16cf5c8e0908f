"""How the pool workers of a live tree died, from what the system kept: a core file
(``capture.crashcores``: the last Python stack and the task it was running) for a worker
killed by a core-dumping signal, the kernel's OOM facts (``capture.oomkill``) for one
killed by SIGKILL. Added to the ``lost_task`` verdict's evidence and to the death's event,
once per dead process (a core is read once, the kernel log once).

``DeathWatch`` is what a ``LiveSource`` keeps for that between refreshes: the OOM counters
read before each capture walked the tree (a process seen alive by that capture died after
them), the memory cgroup of each pool worker read while it lived, what each death was
found to be, and the core files found (``enter`` on the event opens one).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Optional

from pooltui.analysis import roles
from pooltui.analysis.diff import Key
from pooltui.analysis.history import History
from pooltui.capture import oomkill, procs
from pooltui.model import Event, EventKind, Kind, Process, ProcessStatus, Snapshot
from pooltui.model.record import Record, replace

MAX_WORKERS = 4096  # cgroups remembered (a worker each)
MAX_DEATHS = 1024  # deaths remembered (a verdict about one is carried on past the samples kept)
OOM_WORDS = {
    True: "by the kernel's OOM killer (out of memory)",
    False: "not by the OOM killer",
    None: "whether by the OOM killer is not readable here",
}


class Death(Record, frozen=True):
    """What was found about one death: evidence lines for its verdict, what its event adds
    in a few words, and the core file it left (found and read by crashcores)."""

    lines: tuple[str, ...] = ()
    event: str = ""
    core: Optional[str] = None


class DeathWatch:
    def __init__(self, cores: Optional[str] = None, *, redact: bool = True) -> None:
        self.cores = cores  # --cores DIR: where dead workers' core files are (else core_pattern says)
        self.redact = redact
        self._deaths: dict[Key, Death] = {}  # a dead worker (pid, start) -> what its death was found to be
        self._by_pid: dict[int, Key] = {}  # a pid -> its latest death (a verdict names pids)
        self._baseline: dict[Key, oomkill.Counters] = {}  # a pool worker -> OOM counters read while it was alive (the last)
        self._cgroups: dict[Key, str] = {}  # a pool worker (pid, start) -> its memory cgroup
        self._next: Optional[oomkill.Counters] = None

    def before_capture(self) -> None:
        """Read the OOM counters before the capture walks the tree."""
        self._next = oomkill.read_counters(set(self._cgroups.values()))

    def death_of(self, pid: int) -> Optional[Death]:
        key = self._by_pid.get(pid)
        return self._deaths.get(key) if key is not None else None

    def core_of(self, pid: int) -> Optional[str]:
        death = self.death_of(pid)
        return death.core if death is not None else None

    async def explain(self, window: History, snapshot: Snapshot, *, learn: bool = True) -> Snapshot:
        """``snapshot`` (the latest of ``window``) with its deaths explained; ``learn``: and
        the baselines of its live workers kept, for the next capture (false for the last one)."""
        deaths = {
            alive.pid: (alive, zombie.exit_code or 0, diff.before.created)
            for diff in window.diffs
            for alive, zombie in diff.departed
            if alive.role == roles.POOL_WORKER and zombie is not None and zombie.exit_code and zombie.exit_code & 0x7F
        }
        for alive, status, since in deaths.values():
            if alive.key not in self._deaths:
                self._deaths[alive.key] = await self._find(alive, status, since)
                self._by_pid[alive.pid] = alive.key
                for old in list(self._deaths)[:-MAX_DEATHS]:
                    del self._deaths[old]
        if learn:
            await asyncio.to_thread(self._learn, snapshot, window, self._next)
        self._next = None
        return self._amended(snapshot, set(deaths))

    async def _find(self, alive: Process, status: int, since: float) -> Death:
        # the core reader (capture.coredump, capture.memory.core: ~10 ms of imports) only
        # once a death is to be explained: a capture that saw none never loads it
        from pooltui.capture import crashcores

        if crashcores.core_dumped(status):
            crash = await asyncio.to_thread(
                crashcores.last_stack, alive, status, crashcores.cwd_of(alive.ppid), self.cores, redact_secrets=self.redact
            )
            if crash.path is None:
                return Death(crash.lines)
            return Death(crash.lines, (f"{crash.task.words}; " if crash.task else "") + f"core {crash.path} (enter opens it)", crash.path)
        if status & 0x7F == signal.SIGKILL:
            oom, line = await asyncio.to_thread(self._oom, alive, since)
            return Death((line,), OOM_WORDS[oom])
        return Death()

    def _oom(self, alive: Process, since: float) -> tuple[Optional[bool], str]:
        after = oomkill.read_counters(set(self._cgroups.values()))
        return oomkill.verdict(
            alive.pid, alive.name, since, self._baseline.get(alive.key), after, self._cgroups.get(alive.key), oomkill.read_kernel_log()
        )

    def _learn(self, snapshot: Snapshot, window: History, before: Optional[oomkill.Counters]) -> None:
        """Each pool worker's baseline: the counters read before this capture saw it alive; a
        worker seen for the first time: its cgroup, whose counter is its baseline once the
        worker is seen alive after reading it (an OOM kill after the read moves it)."""
        for p in snapshot.processes:
            if p.role != roles.POOL_WORKER or p.status == ProcessStatus.ZOMBIE:
                continue
            if before is not None:
                self._baseline[p.key] = before
            if p.key in self._cgroups or len(self._cgroups) >= MAX_WORKERS:
                continue
            cgroup = oomkill.cgroup_of(p.pid)
            if cgroup is None:
                continue
            self._cgroups[p.key] = cgroup
            count = oomkill.cgroup_count(cgroup)
            if count is not None and procs.is_alive(p.pid, p.create_time):
                base = self._baseline.get(p.key)
                self._baseline[p.key] = oomkill.Counters(base.system if base else None, {**(base.cgroups if base else {}), cgroup: count})
        keep = {p.key for p in snapshot.processes} | {alive.key for diff in window.diffs for alive, _z in diff.departed}
        for known in (self._cgroups, self._baseline):
            for key in [k for k in known if k not in keep]:
                del known[key]

    def _amended(self, snapshot: Snapshot, dead: set[int]) -> Snapshot:
        diagnoses, changed = [], False
        for d in snapshot.diagnoses:
            pid = d.pids[1] if d.kind is Kind.LOST_TASK and d.over_time and len(d.pids) > 1 else None
            death = self.death_of(pid) if pid is not None else None
            found = death.lines if death is not None else ()
            if found and found[0] not in d.evidence:  # also once the death left the samples kept (carried)
                d, changed = replace(d, evidence=(*d.evidence, *found)), True
            diagnoses.append(d)
        events = []
        for e in snapshot.events:
            death = self.death_of(e.pid) if e.kind is EventKind.PROCESS_EXITED and e.pid in dead else None
            extra = death.event if death is not None else ""
            if extra and extra not in e.detail:
                e, changed = Event(e.time, e.kind, e.pid, f"{e.detail}; {extra}"), True
            events.append(e)
        return snapshot.with_(diagnoses=tuple(diagnoses), events=tuple(events)) if changed else snapshot
