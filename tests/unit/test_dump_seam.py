"""Every dump of a process goes through ``capture.dump.dump``, which redacts: no other
module calls py-spy's dump (``capture.dump.dump_consistent``) and so none can keep a secret-looking
local in clear (the closer look a verdict asked for once did: issue 25)."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pooltui"


def test_only_capture_dump_calls_dump_consistent():
    callers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "dump_consistent(" in path.read_text() and path.name not in ("dump.py", "pyspy.py")
    )
    assert callers == [], f"dumps that bypass capture.dump (and its redaction): {callers}"
