"""Who can end a wait: on a process-private primitive (a threading.Event, Condition, a
queue.Queue): only a thread of the waiter's own process. When every such thread waits, in
turn, on the waiter, nobody can -- a deadlock through notifications no rule names
(demo/stuck_notify.py, in a forked worker: no thread is missing, no lock crossed a fork)."""

from __future__ import annotations

import pytest

from tests.conftest import capture, interpreter_params

pytestmark = pytest.mark.live
VERSIONS = ("2.7", "3.8", "3.11", "3.13")
STUCK = {
    "queue_event": ("wait() of a threading.Event", "get() of a queue.Queue"),
    "cond_lock": ("STATE_LOCK", "wait() of a threading.Condition"),
    "join": ("joins ", "wait() of a threading.Condition"),
    "nested_future": ("result() of a concurrent.futures Future", "its executor's own workers"),
}


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", sorted(STUCK))
def test_threads_that_each_wait_for_the_other_to_notify_are_a_deadlock(shape, python, start_demo):
    from pooltui.model import Kind, Severity

    if shape == "nested_future" and "/2.7" in python:
        pytest.skip("concurrent.futures needs Python 3")
    demo = start_demo("stuck_notify", python, "--shape", shape)
    truth = demo.truth
    s = capture(demo.pid)
    found = [d for d in s.diagnoses if d.kind is Kind.DEADLOCK]
    assert len(found) == 1, [(d.kind.value, d.summary) for d in s.diagnoses]
    d = found[0]
    assert d.severity is Severity.ERROR and d.pids == (truth["child_pid"],), d
    assert set(d.tids) == set(truth["stuck"].values()), (d.tids, truth)
    text = " ".join(d.evidence)
    for words in STUCK[shape]:
        assert words in text, text
    assert f"only a thread of pid {truth['child_pid']} can end it" in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", [*sorted(STUCK), "pingpong"])
def test_the_healthy_twin_draws_nothing(shape, python, start_demo):
    """The same waits with a producer asleep that would put, notify and set when it wakes; and
    two threads handing a turn back and forth through one Condition as fast as they can."""
    if shape == "nested_future" and "/2.7" in python:
        pytest.skip("concurrent.futures needs Python 3")
    extra = () if shape == "pingpong" else ("--healthy",)
    demo = start_demo("stuck_notify", python, "--shape", shape, *extra)
    _draws_nothing(demo)


def _draws_nothing(demo) -> None:  # type: ignore[no-untyped-def]
    """Three captures of a healthy twin, none with a warning or an error."""
    from pooltui.model import Severity

    for _ in range(3):
        s = capture(demo.pid)
        assert [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO] == []


def _worker_and_program_deadlock(demo, processes=2):
    """The one deadlock of a subprocess_pipe demo: an error between the worker and its program
    (and, through a shell, the shell's child: ``processes``)."""
    from pooltui.model import Kind, Severity

    s = capture(demo.pid)
    found = [d for d in s.diagnoses if d.kind is Kind.DEADLOCK]
    assert len(found) == 1, [(d.kind.value, d.summary) for d in s.diagnoses]
    d = found[0]
    assert d.severity is Severity.ERROR and {demo.truth["worker_pid"], demo.truth["program_pid"]} <= set(d.pids), d
    assert len(set(d.pids)) == processes and demo.pid not in d.pids, d
    return d


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("program", ["cat", "tr", "python"])
def test_a_task_feeding_a_program_whose_output_pipe_is_full_is_a_deadlock(program, python, start_demo):
    """Popen(stdin=PIPE, stdout=PIPE), write() everything, then read(): the program (not
    Python: its threads as the kernel shows them) waits for its output to be read."""
    demo = start_demo("subprocess_pipe", python, "--program", program)
    truth = demo.truth
    d = _worker_and_program_deadlock(demo)
    text = " ".join(d.evidence)
    assert f"(pid {truth['program_pid']}" in text and text.count("the pipe is full") == 2, text
    if program == "python":  # two Python processes: no program's fix, no Queue's either
        assert "never write more than a pipe holds" in d.fix and "multiprocessing.Queue" not in d.fix, d.fix
    else:
        assert f"'{program}' (pid {truth['program_pid']}, not python)" in text, text
        assert "communicate(" in d.fix


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_reading_a_programs_stdout_while_its_stderr_fills_is_a_deadlock(python, start_demo):
    """Popen(stdout=PIPE, stderr=PIPE), then stdout.read() to the end: the program (not
    Python) is blocked writing its full stderr, which the task reads only afterwards."""
    demo = start_demo("subprocess_pipe", python, "--program", "stderr")
    d = _worker_and_program_deadlock(demo)
    text = " ".join(d.evidence)
    assert f"'head' (pid {demo.truth['program_pid']}, not python)" in text and text.count("the pipe is full") == 1, text
    assert "communicate()" in d.fix and "stderr=STDOUT" in d.fix and "close p.stdin" not in d.fix, d.fix


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_reading_both_outputs_of_a_program_that_sleeps_draws_nothing(python, start_demo):
    demo = start_demo("subprocess_pipe", python, "--program", "stderr", "--healthy")
    _draws_nothing(demo)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_program_that_sleeps_draws_nothing(python, start_demo):
    """communicate() with a program that echoed everything and sleeps with its stdout open."""
    demo = start_demo("subprocess_pipe", python, "--healthy")
    _draws_nothing(demo)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_program_whose_stdin_it_holds_open_is_a_deadlock(python, start_demo):
    """Popen(stdin=PIPE), a few lines written, then wait() with stdin never closed: the task's
    wait4() waits on the program, the program's read() on the pipe only the task could write
    (or close)."""
    demo = start_demo("subprocess_pipe", python, "--wait")
    truth = demo.truth
    d = _worker_and_program_deadlock(demo)
    text = " ".join(d.evidence)
    assert f"waits for pid {truth['program_pid']} to exit (wait4" in text and f"'sort' (pid {truth['program_pid']}, not python)" in text, text
    assert "close p.stdin" in d.fix, d.fix


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_program_it_closed_the_input_of_draws_nothing(python, start_demo):
    """The same wait() once stdin is closed, for a program that read to the end and sleeps."""
    demo = start_demo("subprocess_pipe", python, "--wait", "--healthy")
    _draws_nothing(demo)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("via", ["shell", "fork"])
def test_a_task_waiting_for_a_child_through_a_shell_or_any_child_is_a_deadlock(via, python, start_demo):
    """wait() for `sh -c "sort; ..."` (the shell, a program, waits for sort in wait4()), or
    os.wait() for any child (wait4(-1)) while the only child reads a pipe only the task holds."""
    demo = start_demo("subprocess_pipe", python, "--wait", "--via", via)
    d = _worker_and_program_deadlock(demo, 3 if via == "shell" else 2)  # worker, shell, sort / worker, child
    text = " ".join(d.evidence)
    said = f"waits for pid {demo.truth['program_pid']} to exit" if via == "shell" else "waits for any of its children (pids"
    assert said in text, text


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_any_child_while_one_sleeps_draws_nothing(python, start_demo):
    """os.wait() with one child stuck on a pipe and one asleep: the sleeper's exit ends it."""
    demo = start_demo("subprocess_pipe", python, "--wait", "--via", "fork", "--healthy")
    _draws_nothing(demo)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_program_whose_full_output_it_never_reads_is_a_deadlock_fixed_by_communicate(python, start_demo):
    """subprocess's own warning: Popen(stdout=PIPE).wait() for a program that writes more than
    the pipe holds. Its fix said to close stdin (the program reading its input to the end) before:
    the program here writes, and the task must read while it waits."""
    demo = start_demo("subprocess_pipe", python, "--wait", "--via", "output")
    truth = demo.truth
    d = _worker_and_program_deadlock(demo)
    text = " ".join(d.evidence)
    assert f"waits for pid {truth['program_pid']} to exit (wait4" in text and "blocked in write()" in text, text
    assert "communicate()" in d.fix and "close p.stdin" not in d.fix, d.fix


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_program_whose_output_fits_in_the_pipe_draws_nothing(python, start_demo):
    """The same wait() for a program whose output fits in the pipe, asleep after it."""
    demo = start_demo("subprocess_pipe", python, "--wait", "--via", "output", "--healthy")
    _draws_nothing(demo)


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_python_child_whose_printers_fill_its_stdout_names_every_printer(python, start_demo):
    """The same with a Python child whose three threads print: one blocks in write(), the
    others (2.7: always) wait on the file object's own lock -- a C FILE's or a buffer's, no
    Python lock -- and read "waits on I/O" with no edge before: the cycle then went through
    the child's main thread only when it was the one in write()."""
    import re

    demo = start_demo("subprocess_pipe", python, "--wait", "--via", "python")
    d = _worker_and_program_deadlock(demo)
    child = demo.truth["program_pid"]
    printer = re.compile(rf"^(?:also blocked behind it: )?'[^']*' \(pid {child}, python\)")
    assert len([e for e in d.evidence if printer.match(e)]) == 3, d.evidence  # in the cycle or behind it
    assert "communicate()" in d.fix, d.fix


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_task_waiting_for_a_python_child_that_printed_a_few_lines_draws_nothing(python, start_demo):
    demo = start_demo("subprocess_pipe", python, "--wait", "--via", "python", "--healthy")
    _draws_nothing(demo)
