"""CPython 3.13 publishes its structs' offsets at the start of ``_PyRuntime``
(``_Py_DebugOffsets``): read from a live 3.13 process they must be the direct reader's own
table (capture.memory.stacks.STACK_LAYOUTS), so the table is checked against the
interpreter itself, and a target whose published offsets differ is left to py-spy."""

from __future__ import annotations

import subprocess

import pytest

from pooltui.capture.memory import debugoffsets, stacks
from pooltui.model import replace
from tests.conftest import interpreter_params


@pytest.fixture
def sleeper(request):
    python = request.param
    proc = subprocess.Popen([python, "-c", "import time; print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sleeper", interpreter_params(("3.13",)), indirect=True)
def test_the_published_offsets_are_the_table(sleeper):
    with stacks.StackMemory(sleeper.pid, (3, 13)) as mem:
        runtime = mem.runtime()
        published = debugoffsets.parse(mem.read(runtime, debugoffsets.size_of((3, 13))), (3, 13))
    assert published is not None and published.version == (3, 13) and not published.free_threaded
    assert debugoffsets.disagreement(published, stacks.STACK_LAYOUTS[(3, 13)]) == []
    assert stacks.StackLayout(**debugoffsets.stack_fields(published)) == stacks.STACK_LAYOUTS[(3, 13)]


@pytest.mark.parametrize("sleeper", interpreter_params(("3.13",)), indirect=True)
def test_a_table_the_target_contradicts_is_not_used(sleeper, monkeypatch):
    moved = replace(stacks.STACK_LAYOUTS[(3, 13)], thread_id=stacks.STACK_LAYOUTS[(3, 13)].thread_id + 8)
    monkeypatch.setitem(stacks.STACK_LAYOUTS, (3, 13), moved)
    with stacks.StackMemory(sleeper.pid, (3, 13)) as mem, pytest.raises(stacks.Unreadable, match="thread_id: table"):
        mem.threads()


@pytest.mark.parametrize("sleeper", interpreter_params(("3.12",)), indirect=True)
def test_before_3_13_there_is_nothing_published(sleeper):
    with stacks.StackMemory(sleeper.pid, (3, 12)) as mem:
        runtime = mem.runtime()
        head = mem.read(runtime, 8)
    assert head != debugoffsets.COOKIE
