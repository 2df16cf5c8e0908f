"""The layering rule (ARCHITECTURE.md, Layers): nothing below the UI pulls in textual or rich,
and the import-linter contracts in pyproject.toml hold."""

import shutil
import subprocess
import sys

import pytest


def test_lower_layers_do_not_import_textual_or_rich():
    code = (
        "import sys\n"
        "import pooltui.model, pooltui.capture.snapshot, pooltui.capture.procs, pooltui.capture.pyspy\n"
        "import pooltui.analysis, pooltui.analysis.roles, pooltui.analysis.waits\n"
        "import pooltui.report, pooltui.report.markdown, pooltui.sources\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"lower layers imported: {out.stdout}"


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports") or str(__import__("pathlib").Path(sys.executable).parent / "lint-imports")
    if not __import__("os").path.exists(exe):
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]')")
    out = subprocess.run([exe], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
