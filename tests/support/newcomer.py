"""Running a make target or a command as a newcomer does: with PATH and a fresh HOME, nothing else.

A newcomer has no AWS configuration (no `AWS_*` variables, no `~/.aws`) and none of the variables
the test session sets for itself (`tests/conftest.py`). Tests of the make targets and of the
command-line entry points run them through these helpers, so what is tested is what a newcomer has.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Any

from local_runtime import template

ROOT = template.ROOT


def environment(home: Path, **variables: str) -> dict[str, str]:
    """PATH and a fresh HOME (created if missing), plus `variables` (only what a make target
    would export itself)."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home), **variables}


def run(command: list[str], home: Path, *, timeout: float = 600, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run `command` in the project's folder with a newcomer's environment, to its end."""
    return subprocess.run(
        command,
        cwd=ROOT,
        env=environment(home, **variables),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make(*arguments: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`make <arguments>` with a newcomer's environment, to its end."""
    return run(["make", "--no-print-directory", *arguments], home, timeout=timeout)


def start_make(*arguments: str, home: Path, output: IO[Any]) -> subprocess.Popen[bytes]:
    """`make <arguments>` with a newcomer's environment, in its own process group (so that `stop`
    reaches make and everything it started, as Ctrl-C in a terminal does); output to `output`."""
    return subprocess.Popen(
        ["make", "--no-print-directory", *arguments],
        cwd=ROOT,
        env=environment(home),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """Ctrl-C: SIGINT to the process group; SIGKILL to it if it has not ended after `timeout`.
    Returns the exit status."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode
