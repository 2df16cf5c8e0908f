"""No module of the package is over 400 lines (issue 25): a module that grows past that holds
two things, and the next reader has to find the seam. Two had grown past it unnoticed
(``analysis.graph``: the graph and the words of its verdict; ``capture.ends``: the ends and
the poll sets), which is why this is a test and not a review note."""

from __future__ import annotations

from pathlib import Path

import pooltui

PACKAGE = Path(pooltui.__file__).parent
MAX_LINES = 400


def test_no_module_is_over_400_lines():
    # an installed wheel also holds the bundled demo programs (pooltui/demos: scripts run by the
    # target's Python, 2.7 to 3.13, not modules of the package)
    code = [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] != "demos"]
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in code}
    assert len(sizes) > 50  # the package's modules were found (an installed wheel has them too)
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
