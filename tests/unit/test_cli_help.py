"""Every command's --help ends with an example a person can copy, and `python -m pooltui` is
the same command line as the `pooltui` script."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pooltui.cli import COMMANDS, build_parser, main


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_wired():
    assert set(_subcommands()) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "Example" in out, out
    assert f"pooltui {command}" in out.split("Example", 1)[1], out  # the example runs this very command


def test_top_level_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Example" in capsys.readouterr().out


def test_python_dash_m_pooltui():
    run = subprocess.run([sys.executable, "-m", "pooltui", "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("pooltui "), run


def test_serve_rejects_a_bad_port(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "1234", "--port", "70000"])
    assert exit_.value.code == 2
    assert "not a port" in capsys.readouterr().err


def test_serve_without_its_extra_says_how_to_install_it_in_one_line():
    """An install without `pooltui[serve]` (no aiohttp, no textual-serve): one line that names
    the extra, exit 2, no traceback. (tests/packaging/check_wheel.sh runs it for real.)"""
    code = "import sys; sys.modules['aiohttp'] = None; from pooltui.cli import main; main(['serve', '1'])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run
    assert run.stderr.splitlines() == [
        "pooltui: the browser view needs the serve extra (no module aiohttp): "
        "pip install 'pooltui[serve]' (pipx: pipx install --force 'pooltui[serve]')"
    ]
