"""A `sam local start-api|start-lambda --warm-containers EAGER` on the backends, as a child
process: started, waited for until it answers, and stopped with its containers. `SamApi` and
`SamLambda` differ in what they do with its output and how they are called."""

from __future__ import annotations

import io
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, ClassVar, Self

from local_runtime.ports import port_is_free
from local_runtime.sam_local.backends import Backends
from local_runtime.sam_local.child_process import stop_process
from local_runtime.sam_local.engine import remove_containers
from local_runtime.sam_local.sam_cli import BUILT_TEMPLATE, ROOT, SamLocalError, sam_environment, sam_executable

START_TIMEOUT_SECONDS = 240


class SamService:
    """`sam local <subcommand> --warm-containers EAGER`: one container per function, started before
    it serves (about 20 s or more) and reused by every request."""

    subcommand: ClassVar[str]
    ready_path: ClassVar[str] = "/"
    """What `answers()` requests: any HTTP answer there means it serves."""

    def __init__(
        self, backends: Backends, *, port: int, host: str = "127.0.0.1", built_template: Path = BUILT_TEMPLATE
    ) -> None:
        self.backends = backends
        self.port = port
        self.host = host
        self.built_template = built_template
        self.process: subprocess.Popen[bytes] | None = None
        self.pump_lines: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sam_executable(),
            "local",
            self.subcommand,
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

    def _spawn(self, stdout: IO[Any] | int) -> subprocess.Popen[bytes]:
        """Start SAM, its output (and its errors) to `stdout`."""
        if not port_is_free(self.port, self.host):
            raise SamLocalError(f"port {self.port} is in use: free it or choose another one")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=sam_environment(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop SAM with SIGTERM
        )
        return self.process

    def _pump(self, target: Any, *args: Any, name: str) -> None:
        """Read SAM's output lines in a thread of their own: `target(<the lines>, *args)`."""
        assert self.process is not None and self.process.stdout is not None
        stream = io.TextIOWrapper(self.process.stdout, errors="replace")
        self.pump_lines = threading.Thread(target=target, args=(stream, *args), daemon=True, name=name)
        self.pump_lines.start()

    def start(self) -> Self:
        raise NotImplementedError

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2):  # noqa: S310 (local)
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer: it is serving
        except (urllib.error.URLError, OSError):
            return False

    def _why_it_exited(self) -> str:
        """What to add to the message when SAM exits before serving."""
        return ""

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> Self:
        """Wait until it answers (with EAGER it first starts a container per function)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SamLocalError(
                    f"sam local {self.subcommand} exited with status {self.process.returncode} before serving"
                    f"{self._why_it_exited()}"
                )
            if self.answers():
                return self
            time.sleep(0.5)
        raise SamLocalError(f"sam local {self.subcommand} did not answer on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)
        if self.pump_lines is not None:
            self.pump_lines.join(timeout=5)
        remove_containers(self.backends.dynamodb_url)

    def __enter__(self) -> Self:
        return self.start().wait_ready() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
