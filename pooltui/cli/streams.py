"""The standard streams of a command run by cron or systemd, which may close them.

A closed stdout or stderr must change neither what pooltui does nor its exit code (0 ok,
1 error verdict, 2 usage, 3 cannot attach): never a traceback, never exit 1 from a failed
flush. Two things go wrong otherwise. Python starts with ``sys.stdout`` / ``sys.stderr``
None for a closed descriptor, and ``print(..., file=None)`` writes to *stdout*: with stderr
closed, every message went into the report on stdout. And the next file pooltui opens
takes the lowest free descriptor, 1 or 2, so a later write "to stderr" (ours, or py-spy's
inherited one) lands in that file.
"""

from __future__ import annotations

import io
import os
import sys

from pooltui.cli.arguments import EXIT_USAGE, Fail


def guard_standard_streams() -> None:
    """Point each closed descriptor 0-2 at /dev/null (no file opened later takes its number),
    and a missing ``sys.stderr`` at that /dev/null (messages are lost, not misdirected).
    A missing ``sys.stdout`` stays None: ``write_stdout`` says the report cannot be written."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                devnull = os.open(os.devnull, os.O_RDWR)
            except OSError:
                continue
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
    if sys.stderr is None:
        try:
            sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), errors="backslashreplace", line_buffering=True)
        except OSError:
            pass


def say(text: str) -> None:
    """One line on stderr; a stderr that cannot take it (closed, a broken pipe, a full disk)
    loses the line and nothing else."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        print(text, file=stream)
    except (OSError, ValueError):
        pass


def flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said there
            pass


def write_stdout(text: str) -> None:
    """Write a report to stdout, flushed here: a full disk or a closed stdout is a one-line
    error with exit 2 (exit 1 means "error found" to cron), not a traceback at exit."""
    out = sys.stdout
    if out is None:
        raise Fail("cannot write the report: stdout is closed (use -o FILE)", EXIT_USAGE)
    reconfigure = getattr(out, "reconfigure", None)  # io.TextIOWrapper's: not every TextIO has one
    try:
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")  # a terminal that is not UTF-8 still gets every line
    except ValueError:
        pass
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise  # `| head`: the reader had enough (main exits 0)
    except OSError as exc:
        silence_stdout()
        raise Fail(f"cannot write the report to stdout: {exc.strerror or exc} (use -o FILE)", EXIT_USAGE) from None


def silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
