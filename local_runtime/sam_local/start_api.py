"""`sam local start-api --warm-containers EAGER` on the backends, as a child process."""

from __future__ import annotations

import io
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import IO, Any

from local_runtime import template
from local_runtime.ports import port_is_free
from local_runtime.sam_local.backends import Backends
from local_runtime.sam_local.child_process import WithoutShutdownNoise, pump_lines, stop_process, to_stderr
from local_runtime.sam_local.engine import remove_containers
from local_runtime.sam_local.sam_cli import BUILT_TEMPLATE, ROOT, SamLocalError, sam_environment, sam_executable

READY_PATH = "/__sam_local_ready"
START_API_TIMEOUT_SECONDS = 240


class SamApi:
    """`sam local start-api --warm-containers EAGER` on the backends, as a child process."""

    def __init__(
        self,
        backends: Backends,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        built_template: Path = BUILT_TEMPLATE,
        output: IO[Any] | None = None,
    ) -> None:
        self.backends = backends
        self.port = port
        self.host = host
        self.built_template = built_template
        self.output = output  # None: shown on this process's stderr
        self.process: subprocess.Popen[bytes] | None = None
        self._shown: WithoutShutdownNoise | None = None
        self.pump_lines: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sam_executable(),
            "local",
            "start-api",
            "--template-file",
            str(self.built_template),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--warm-containers",
            "EAGER",
            *self.backends.sam_options(),
        ]

    def start(self) -> SamApi:
        if not port_is_free(self.port, self.host):
            raise SamLocalError(f"port {self.port} is in use: free it or choose another one")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=sam_environment(),
            stdin=subprocess.DEVNULL,
            stdout=self.output if self.output is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop SAM with SIGTERM
        )
        if self.output is None:
            assert self.process.stdout is not None
            self._shown = WithoutShutdownNoise(to_stderr, drop=READY_PATH, on_first=False)
            stream = io.TextIOWrapper(self.process.stdout, errors="replace")
            self.pump_lines = threading.Thread(
                target=pump_lines, args=(stream, self._shown, deque(maxlen=1)), daemon=True, name="sam-api-output"
            )
            self.pump_lines.start()
        return self

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{READY_PATH}", timeout=2):  # noqa: S310 (local)
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer: the gateway is serving
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = START_API_TIMEOUT_SECONDS) -> SamApi:
        """Wait until the gateway answers (with EAGER it first starts a container per function)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SamLocalError(
                    f"sam local start-api exited with status {self.process.returncode} before serving"
                    " (its output is above / in the log)"
                )
            if self.answers():
                return self
            time.sleep(0.5)
        raise SamLocalError(f"sam local start-api did not answer on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if self._shown is not None:
            self._shown.muted = True  # SAM's and the runtimes' shutdown chatter
        if process is not None:
            stop_process(process)
        if self.pump_lines is not None:
            self.pump_lines.join(timeout=5)
        remove_containers(self.backends.dynamodb_url)

    def __enter__(self) -> SamApi:
        return self.start().wait_ready() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def routes() -> list[tuple[str, str, str]]:
    """(method, path, function) of every HttpApi event in the template, sorted by path."""
    found = []
    for logical_id, resource in template.resources("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                found.append((str(event["Properties"]["Method"]), str(event["Properties"]["Path"]), logical_id))
    return sorted(found, key=lambda route: (route[1], route[0]))
