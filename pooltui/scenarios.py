"""Run the bundled demo scenarios (``demo/*.py``): start one under a chosen
interpreter, wait for its readiness signal on a FIFO (never a fixed sleep), and stop
it (its whole process group) afterwards.

Used by ``pooltui demo``, the live tests, the fixture recorder and the benchmark.
"""

from __future__ import annotations

import ast
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional


class DemoError(RuntimeError):
    """A scenario is unknown, failed to start, or did not become ready in time."""


def demo_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "demo", here / "demos"):
        if candidate.is_dir():
            return candidate
    raise DemoError("the demo scenarios are not installed next to pooltui")


def scenarios() -> dict[str, str]:
    """name -> first line of the scenario's header."""
    out = {}
    for path in sorted(demo_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        except (SyntaxError, OSError, UnicodeDecodeError):
            doc = ""
        out[path.stem] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def script(name: str) -> Path:
    path = demo_dir() / f"{name}.py"
    if name.startswith("_") or not path.is_file():
        raise DemoError(f"unknown scenario {name!r}; `pooltui demo --list` shows them")
    return path


@dataclass
class RunningDemo:
    name: str
    proc: subprocess.Popen[bytes]
    info: dict[str, Any] = field(default_factory=dict)
    stderr_path: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def truth(self) -> dict[str, Any]:
        return self.info.get("truth", {})

    def stderr(self) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the scenario's process group, then SIGKILL what is left."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)
        if self.stderr_path:
            try:
                os.unlink(self.stderr_path)
            except OSError:
                pass

    def __enter__(self) -> RunningDemo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    name: str,
    python: str = sys.executable,
    *,
    args: tuple[str, ...] = (),
    timeout: float = 60.0,
    lifetime: float = 900.0,
    relative: bool = False,
) -> RunningDemo:
    """Start scenario ``name`` and return once it has signalled readiness. ``relative``: as
    ``cd demo && python NAME.py`` (<= 3.8 keeps the script's path relative in its code)."""
    path = script(name)
    workdir = tempfile.mkdtemp(prefix="pooltui-demo-")
    fifo = os.path.join(workdir, "ready")
    os.mkfifo(fifo, 0o600)
    err = tempfile.NamedTemporaryFile(prefix=f"pooltui-demo-{name}-", suffix=".stderr", delete=False)
    cmd = [python, path.name if relative else str(path), "--ready", fifo, "--lifetime", str(lifetime), *args]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, cwd=path.parent if relative else None
    )
    err.close()
    demo = RunningDemo(name, proc, stderr_path=err.name)
    try:
        demo.info = wait_ready(fifo, proc, timeout)
        if "error" in demo.info:  # the demo's own "state not reached" line (demo/_common.py Demo.fail)
            raise DemoError(f"scenario {name} did not reach its state: {str(demo.info['error'])[:300]}")
    except BaseException as exc:
        text = demo.stderr()
        demo.stop()
        if isinstance(text, str) and text.strip():
            # why (late, exited, its own error) and how its stderr ends: its last line alone can be
            # noise (crash_loop's was a ZeroDivisionError, and said nothing of why it was not ready)
            tail = " | ".join(text.strip().splitlines()[-6:])[-1500:]
            raise DemoError(f"scenario {name} did not become ready ({exc}); its stderr ends: {tail}") from None
        raise
    finally:
        try:
            os.unlink(fifo)
            os.rmdir(workdir)
        except OSError:
            pass
    return demo


def wait_ready(fifo: str, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The JSON line a process writes to ``fifo`` once ready; DemoError if it exits first or is late."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while True:
            if time.monotonic() > deadline:
                raise DemoError(f"scenario did not signal readiness within {timeout:g} s")
            readable, _, _ = select.select([fd], [], [], 0.2)
            if readable:
                chunk = os.read(fd, 65536)
                data += chunk
                if b"\n" in data:
                    break
                if not chunk and data:
                    break
            if proc.poll() is not None:
                raise DemoError(f"scenario exited with code {proc.returncode} before it was ready")
    finally:
        os.close(fd)
    try:
        return json.loads(data.decode().splitlines()[0])
    except (ValueError, IndexError):
        raise DemoError(f"scenario sent an unreadable readiness line: {data[:200]!r}") from None


def find_python(version: str) -> Optional[str]:
    """An interpreter for ``version`` ("3.11", "2.7") among pyenv's, or on PATH."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(Path(root, "versions").glob(f"{version}.*/bin/python"), reverse=True)
    for c in candidates:
        if os.access(c, os.X_OK):
            return str(c)
    for name in (f"python{version}",):
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            path = Path(folder, name)
            if path.is_file() and os.access(path, os.X_OK) and "shims" not in folder:
                return str(path)
    return None


# scenarios that need a framework in the target interpreter: name -> the module to import,
# or the program next to the interpreter (uwsgi: `pip install uwsgi` builds the binary into
# the venv's bin/; its `uwsgi` module exists only inside that binary)
FRAMEWORKS = {"gunicorn_stuck": "gunicorn", "celery_hang": "celery", "joblib_stuck": "joblib", "uwsgi_stuck": "uwsgi"}
PROGRAMS = ("uwsgi",)


def demo_venvs() -> Path:
    """One virtualenv per interpreter with the frameworks installed (``make demo-venvs``:
    ``.demo-venvs/py3.11`` ...); ``POOLTUI_DEMO_VENVS`` points elsewhere."""
    return Path(os.environ.get("POOLTUI_DEMO_VENVS") or Path(__file__).resolve().parent.parent / ".demo-venvs")


@lru_cache(maxsize=64)
def has_framework(python: str, module: str) -> bool:
    if module in PROGRAMS:
        return os.access(Path(python).parent / module, os.X_OK)
    try:
        return subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def python_for(name: str, version: Optional[str] = None) -> Optional[str]:
    """An interpreter that can run scenario ``name``, of ``version`` ("3.11") or, without
    one, preferably of this interpreter's version. A framework scenario needs one that
    imports the framework: a demo virtualenv, or the plain interpreter if it has it."""
    module = FRAMEWORKS.get(name)
    if module is None:
        return find_python(version) if version else sys.executable
    if version is None:
        current = f"{sys.version_info[0]}.{sys.version_info[1]}"
        others = sorted((p.name[2:] for p in demo_venvs().glob("py*")), reverse=True)
        for v in [current, *(o for o in others if o != current)]:
            python = python_for(name, v)
            if python:
                return python
        return None
    candidates = [str(demo_venvs() / f"py{version}" / "bin" / "python"), find_python(version)]
    return next((c for c in candidates if c and os.access(c, os.X_OK) and has_framework(c, module)), None)
