"""``python -m pooltui``: the same command line as the ``pooltui`` script (and what
``pooltui serve`` runs for each browser session)."""

from pooltui.cli import run

if __name__ == "__main__":
    run()
