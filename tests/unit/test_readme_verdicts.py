"""The README's verdicts table and exit codes are the code's: every ``Kind`` once, with the
severity ``SEVERITY`` gives it, and the four exit codes ``cli.arguments`` defines. A verdict
added or re-ranked in pooltui/model/verdicts.py without the user guide following fails here."""

from __future__ import annotations

import re
from pathlib import Path

from pooltui.cli.arguments import EXIT_ATTACH, EXIT_DIAGNOSIS, EXIT_OK, EXIT_USAGE
from pooltui.model.verdicts import SEVERITY

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _table_after(header: str) -> list[list[str]]:
    table = README.split(header, 1)[1].split("\n\n", 1)[0]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table.splitlines() if row.startswith("|") and not row.startswith("|---")]


def test_every_verdict_is_in_the_readme_with_its_severity():
    rows = _table_after("| verdict | severity | what it means |")
    listed = {re.fullmatch(r"`(\w+)`", kind).group(1): severity for kind, severity, _ in rows}  # type: ignore[union-attr]
    assert len(listed) == len(rows), "a verdict is listed twice"
    assert listed == {kind.value: severity.value for kind, severity in SEVERITY.items()}


def test_the_readme_exit_codes_are_the_cli_ones():
    rows = _table_after("| code | meaning |")
    codes = [int(code.strip("`")) for code, _ in rows]
    assert codes == [EXIT_OK, EXIT_DIAGNOSIS, EXIT_USAGE, EXIT_ATTACH]
    assert "error" in rows[1][1] and "usage" in rows[2][1] and "attach" in rows[3][1]
