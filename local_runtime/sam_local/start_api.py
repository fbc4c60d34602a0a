"""`sam local start-api --warm-containers EAGER` on the backends, as a child process."""

from __future__ import annotations

import subprocess
from collections import deque
from pathlib import Path
from typing import IO, Any

from local_runtime import template
from local_runtime.sam_local.backends import Backends
from local_runtime.sam_local.child_process import WithoutShutdownNoise, pump_lines, to_stderr
from local_runtime.sam_local.sam_cli import BUILT_TEMPLATE
from local_runtime.sam_local.service import SamService

READY_PATH = "/__sam_local_ready"


class SamApi(SamService):
    """`sam local start-api --warm-containers EAGER` on the backends, as a child process; its output
    shown on this process's stderr (without the runtimes' shutdown noise), or written to `output`."""

    subcommand = "start-api"
    ready_path = READY_PATH

    def __init__(
        self,
        backends: Backends,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        built_template: Path = BUILT_TEMPLATE,
        output: IO[Any] | None = None,
    ) -> None:
        super().__init__(backends, port=port, host=host, built_template=built_template)
        self.output = output  # None: shown on this process's stderr
        self._shown: WithoutShutdownNoise | None = None

    def start(self) -> SamApi:
        if self.output is not None:
            self._spawn(self.output)
            return self
        self._spawn(subprocess.PIPE)
        self._shown = WithoutShutdownNoise(to_stderr, drop=READY_PATH, on_first=False)
        self._pump(pump_lines, self._shown, deque(maxlen=1), name="sam-api-output")
        return self

    def _why_it_exited(self) -> str:
        return " (its output is above / in the log)"

    def stop(self) -> None:
        if self._shown is not None:
            self._shown.muted = True  # SAM's and the runtimes' shutdown chatter
        super().stop()


def routes() -> list[tuple[str, str, str]]:
    """(method, path, function) of every HttpApi event in the template, sorted by path."""
    found = []
    for logical_id, resource in template.resources("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                found.append((str(event["Properties"]["Method"]), str(event["Properties"]["Path"]), logical_id))
    return sorted(found, key=lambda route: (route[1], route[0]))
