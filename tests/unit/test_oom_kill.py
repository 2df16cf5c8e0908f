"""Whether the OOM killer killed a process, from the kernel's facts only
(``capture.oomkill``): the kernel log's own line (recorded here from Linux 6.18 under a
cgroup v1 limit), the oom_kill counters of /proc/vmstat and of the memory cgroup (v1
memory.oom_control, v2 memory.events), and what is said when they cannot be read."""

from __future__ import annotations

import time

from pooltui.capture import oomkill
from pooltui.capture.oomkill import Counters, KernelLog

RECORDS = [  # /dev/kmsg, recorded: the OOM killer's two lines about one kill, and two others
    b"6,831,11147658494,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
    b"oom_memcg=/process_api/x/pooltui-test-66a9de0d,task_memcg=/process_api/x/pooltui-test-66a9de0d,task=python,pid=3229,uid=0\n",
    b"3,832,11147658510,-;Memory cgroup out of memory: Killed process 3229 (python) total-vm:191048kB, anon-rss:106744kB, "
    b"file-rss:4172kB, shmem-rss:0kB, UID:0 pgtables:284kB oom_score_adj:0\n",
    b"6,829,11147658488,-;[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name\n",
    b"4,759,11147658286,-; oom_kill_process.cold+0x8/0x8a\n SUBSYSTEM=memory\n",
]


def test_the_oom_killers_lines_name_the_pid_and_command():
    found = [oomkill.oom_line(oomkill.parse_kmsg_record(r)[1]) for r in RECORDS]  # type: ignore[index]
    assert found == [(3229, "python"), (3229, "python"), None, None]
    assert oomkill.parse_kmsg_record(RECORDS[1])[0] == 11147.65851  # type: ignore[index]
    assert oomkill.parse_kmsg_record(b"garbage") is None and oomkill.parse_kmsg_record(b"6,1,x,-;m") is None


def test_counters_and_cgroups_parse_from_what_the_kernel_writes():
    assert oomkill.counter_in(b"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3  # v1 memory.oom_control
    assert oomkill.counter_in(b"low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n") == 1  # v2 memory.events
    assert oomkill.counter_in(b"pgfault 10\noom_kill 0\n") == 0 and oomkill.counter_in(b"oom_kill x\n") is None
    v1 = b"9:name=systemd:/\n4:memory:/process_api/0107\n1:cpu:/\n0::/\n"
    assert oomkill.parse_cgroup(v1) == "memory/process_api/0107"
    assert oomkill.parse_cgroup(b"4:memory:/a/../../etc\n") is None, "no path out of the cgroup mount"
    assert oomkill.parse_cgroup(b"0::/system.slice/app.service\n") in ("system.slice/app.service", "unified/system.slice/app.service")


def _log(*kills: tuple[float, int, str], oldest: float = 0.0) -> KernelLog:
    return KernelLog(tuple((at, pid, name, f"Killed process {pid} ({name})") for at, pid, name in kills), oldest)


def test_only_the_kernels_facts_say_oom_or_not():
    since = time.time() - 5
    now = oomkill.monotonic_of(time.time())
    before, after = Counters(7, {"memory/app": 0}), Counters(8, {"memory/app": 1})
    oom, line = oomkill.verdict(3229, "python", since, before, after, "memory/app", _log((now, 3229, "python")))
    assert oom is True and line.startswith("killed by the kernel's OOM killer (out of memory): the kernel log says")
    # a person's kill -9: the counters stayed
    oom, line = oomkill.verdict(3229, "python", since, Counters(7, {"memory/app": 0}), Counters(7, {"memory/app": 0}), "memory/app", None)
    assert oom is False and line.startswith("killed by SIGKILL (not the OOM killer: its counter did not move")
    # the log covers the time since it was seen alive and has no OOM kill in it
    oom, line = oomkill.verdict(3229, "python", since, None, Counters(None), None, _log(oldest=0.0))
    assert oom is False and "the kernel log has no OOM kill since it was last seen alive" in line
    # the counter moved but no log names it: not said either way
    oom, line = oomkill.verdict(3229, "python", since, before, after, "memory/app", None)
    assert oom is None and line.startswith("killed by SIGKILL (whether the OOM killer did it is not readable here: ")
    assert "rose by 1" in line
    # a kill of the same pid before it was last seen alive (pid reused) is not this death
    oom, _line = oomkill.verdict(3229, "python", since, None, Counters(None), None, _log((now - 3600, 3229, "python"), oldest=now - 7200))
    assert oom is False
    # another process's OOM kill while this one was SIGKILLed
    oom, line = oomkill.verdict(3229, "python", since, None, Counters(None), None, _log((now, 99, "java"), oldest=0.0))
    assert oom is None and "pid 99 (java)" in line
    oom, line = oomkill.verdict(3229, "python", since, None, Counters(None), None, None)
    assert oom is None and "no OOM counter or kernel log is readable" in line


def test_an_unreadable_log_or_cgroup_is_none_not_an_error(tmp_path):
    assert oomkill.read_kernel_log(str(tmp_path / "absent")) is None
    (tmp_path / "kmsg").write_bytes(RECORDS[1])
    assert oomkill.read_kernel_log(str(tmp_path / "kmsg")) is None, "a regular file is no kernel log"
    assert oomkill.cgroup_count("memory/no-such-cgroup-here") is None
