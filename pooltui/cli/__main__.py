"""`python -m pooltui.cli`, as `python -m pooltui`."""

from pooltui.cli import main

main()
