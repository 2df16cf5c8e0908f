"""The packages the wheel holds: every package under pooltui/, found (a hand-kept list once
left pooltui.cli, pooltui.model and pooltui.capture.memory out of the wheel, and the installed
`pooltui` could not start), plus pooltui.demos: the scenarios `pooltui demo` runs, which live
in demo/ (pyproject.toml maps it). pyproject.toml's [tool.setuptools.packages.find] cannot
also name a package that lives in another folder, hence this file; everything else about the
project is in pyproject.toml. tests/packaging/check_wheel.sh proves the result installs and runs.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["pooltui", "pooltui.*"]), "pooltui.demos"])
