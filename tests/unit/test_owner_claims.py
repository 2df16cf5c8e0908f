"""An RLock owner that is no thread of its process is called "inherited locked across
fork()" only when facts support it (issue 14 item 13): a corrupted owner in a process
that never forked is a guess (a warning) that says so. Recorded captures, with the
owner field changed as a bad read would change it."""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze
from pooltui.model import Certainty, Severity, replace
from tests.conftest import fixture_names, load_fixture


def names(prefix):
    found = fixture_names(prefix)
    return found or [pytest.param("none", marks=pytest.mark.skip(reason=f"no {prefix} fixtures recorded"))]


def orphan_verdicts(snap):
    return [d for d in snap.diagnoses if d.kind == "orphaned_lock"]


@pytest.mark.parametrize("name", names("abba-") + names("nested_lock-"))
def test_a_misread_owner_in_a_process_that_never_forked_is_no_fork_error(name):
    raw, _ = load_fixture(name)
    rlocks = [lk for lk in raw.locks if lk.kind == "rlock" and lk.owner_ident and lk.pid == raw.root_pid]
    if not rlocks:
        pytest.skip("no RLock with an owner in this recording")
    bad = rlocks[0]
    plausible = bad.owner_ident + 0x100000  # where another thread's stack could be: looks like an ident
    raw = replace(raw, locks=tuple(replace(lk, owner_ident=plausible) if lk is bad else lk for lk in raw.locks))
    verdicts = orphan_verdicts(analyze(raw))
    assert len(verdicts) == 1
    v = verdicts[0]
    assert "fork()" not in v.summary and "forked" in v.summary  # "nothing shows the process was forked"
    assert v.certainty is Certainty.GUESS and v.severity is Severity.WARNING
    assert f"0x{plausible:x}" in v.summary


@pytest.mark.parametrize("name", names("logging_fork-"))
def test_a_lock_inherited_across_fork_stays_an_error_with_its_fact(name):
    raw, _ = load_fixture(name)
    v = orphan_verdicts(analyze(raw))
    assert len(v) == 1 and v[0].severity is Severity.ERROR and "inherited locked across fork()" in v[0].summary
    assert v[0].certainty in (Certainty.FACT, Certainty.INFERRED)


@pytest.mark.parametrize("name", [n for n in names("logging_fork-") if not n.endswith("py2.7")])
def test_owner_ended_in_the_parent_is_still_a_fork_fact_from_the_main_threads_ident(name):
    """The parent's thread that held the lock at fork() has ended since: the children's
    main thread still has the ident of the parent's forking thread."""
    raw, _ = load_fixture(name)
    owners = {lk.owner_ident for lk in raw.locks if lk.kind == "rlock"}
    root = raw.process(raw.root_pid)
    root = replace(root, threads=tuple(t for t in root.threads if t.ident not in owners))
    raw = replace(raw, processes=tuple(root if p.pid == root.pid else p for p in raw.processes))
    v = orphan_verdicts(analyze(raw))
    assert len(v) == 1 and v[0].certainty is Certainty.INFERRED and v[0].severity is Severity.ERROR
    assert any("without exec" in e for e in v[0].evidence)
