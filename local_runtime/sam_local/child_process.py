"""SAM as a child process: its output lines pumped to a sink (without the runtime's shutdown noise),
and its stop (SIGTERM, then SIGKILL to its process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from typing import IO, Any


def stop_process(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM (SAM then removes its containers), SIGKILL to its process group after `timeout`."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def pump_lines(stream: IO[str], sink: Callable[[str], None], kept: deque[str]) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        kept.append(line)
        sink(line)


class WithoutShutdownNoise:
    """Passes log lines on, except the traceback the Lambda runtime client prints when SAM stops the
    container after the invocation (`LAMBDA_RUNTIME Failed to get next invocation`)."""

    def __init__(self, sink: Callable[[str], None], *, drop: str | None = None, on_first: bool = True) -> None:
        self.sink = sink
        self.drop = drop  # lines containing it are left out too
        self.on_first = on_first  # mute from the runtime's first shutdown line (False: only when told)
        self.muted = False

    def __call__(self, line: str) -> None:
        self.muted = self.muted or (self.on_first and "LAMBDA_RUNTIME Failed to get next invocation" in line)
        if not self.muted and not (self.drop and self.drop in line):
            self.sink(line)


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
