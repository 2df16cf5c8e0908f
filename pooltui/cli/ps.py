"""`pooltui ps` (every Python process tree on the box, a cheap look at each) and the picker
`pooltui attach` opens without a pid."""

from __future__ import annotations

import argparse
import shutil
import sys
from typing import Optional

from pooltui.cli.arguments import EXIT_OK, EXIT_USAGE, Fail


def cmd_ps(args: argparse.Namespace) -> int:
    from pooltui.analysis.census import hung_first, trees
    from pooltui.capture.census import take_census
    from pooltui.cli.streams import write_stdout
    from pooltui.report.census import render_json, render_text

    census = take_census()
    rows = trees(census)
    if args.format == "json":
        write_stdout(render_json(rows, census))
        return EXIT_OK
    if args.hung_first:
        rows = hung_first(rows)
    width = shutil.get_terminal_size((0, 0)).columns if sys.stdout is not None and sys.stdout.isatty() else None
    write_stdout(render_text(rows, census, width or None))
    return EXIT_OK


def pick_root() -> Optional[int]:
    """The picker: every Python tree on the box; the root pid chosen, None when the user quit."""
    from pooltui.sources import CensusSource
    from pooltui.ui.picker import PickerApp

    if sys.stdin is None or not sys.stdin.isatty():
        raise Fail("attach without a pid needs a terminal to pick a tree in", EXIT_USAGE, "give the pid: `pooltui ps` lists them")
    return PickerApp(CensusSource()).run()
