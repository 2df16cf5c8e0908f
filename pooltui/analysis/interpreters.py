"""What cannot be shown is said: a process with sub-interpreters shows one interpreter's
threads (the newest one's: py-spy reads ``_PyRuntime.interpreters.head``), and the others'
threads -- the main thread among them -- are missing from its stacks and from every verdict
about them (``capture.interpreters`` counts them)."""

from __future__ import annotations

from pooltui.model import Certainty, Diagnosis, Kind, Snapshot, pids_key


def unseen(snapshot: Snapshot) -> list[Diagnosis]:
    """One info verdict per process known to run more than one interpreter."""
    out = []
    for p in snapshot.processes:
        count = p.interpreters
        if count is None or count < 2 or p.error is not None:
            continue
        others = "the other interpreter's threads" if count == 2 else f"the threads of the other {count - 1}"
        out.append(
            Diagnosis(
                kind=Kind.OTHER_INTERPRETERS,
                certainty=Certainty.FACT,
                subject=pids_key((p.pid,)),
                summary=(
                    f"pid {p.pid} runs {count} Python interpreters (sub-interpreters); only the newest one's threads are shown: "
                    f"{others} -- the main thread among them -- are not, and no verdict covers them."
                ),
                pids=(p.pid,),
                evidence=(
                    f"{count} interpreter states in _PyRuntime's interpreter list",
                    # 3.8-3.11: run_string() swaps in the thread state its interpreter was created
                    # with, so the thread shown carries the creating thread's ident (often the main one's)
                    "a thread shown may carry the ident of the thread that created its interpreter, not its own",
                ),
                fix="Read the other interpreters' threads with gdb (`thread apply all py-bt`) or by having the target dump them "
                "(faulthandler.dump_traceback_later in each interpreter).",
            )
        )
    return out
