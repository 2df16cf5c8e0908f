"""The 60-second version of the soak (scripts/soak.py; docs/speed.md has the 10-minute
run): pooltui refreshing as fast as it can while pool workers are SIGKILLed at random
never crashes, keeps its memory flat, and logs every exit it could have seen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.live
SCRIPT = Path(__file__).resolve().parent.parent.parent / "scripts" / "soak.py"


def test_soak_60_seconds():
    out = subprocess.run([sys.executable, str(SCRIPT), "--duration", "60"], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip(), out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["crashed"] == "", result
    assert result["kills"] > 0, result  # it did kill workers (how many in 60 s depends on the machine's load)
    assert result["missing"] == [], result
    assert result["rss_end_mb"] <= result["rss_after_warmup_mb"] * 1.10, result
    assert out.returncode == 0, out.stdout + out.stderr
