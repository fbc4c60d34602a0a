"""The real `sam local invoke` / `sam local start-api` in Docker, on DynamoDB Local with the sample data.

    python -m local_runtime.sam_local invoke <LogicalId> <event.json>   (make invoke FUNCTION=... EVENT=...)
    python -m local_runtime.sam_local start-api [--port 3000]           (make sam-api [PORT=...])

Steps, each reported on standard error:
1. `scripts/lambda-image.sh ensure`: a Docker engine answers (Debian's dockerd is started if none
   does) and the Lambda base image `public.ecr.aws/lambda/python:3.11-x86_64` exists locally;
2. `sam build --cached` into `.aws-sam/sam-local/` (SAM rebuilds whatever function, layer or
   manifest changed, and always rewrites the built template; a stale build cannot hide a change);
3. DynamoDB Local (in memory, on a free port) with the template's tables and `local_runtime.seed`;
   the local data platform (`local_runtime.data_platform`) on the Docker bridge address, so that
   the forwarder's container can POST to it;
4. `sam local invoke|start-api --skip-pull-image --add-host host.docker.internal:<bridge gateway>
   --parameter-overrides DynamoDbEndpointUrl=http://host.docker.internal:<port>
   DataPlatformUrl=http://host.docker.internal:<port>/orders`.

Containers reach nothing but the host's bridge address, so every endpoint a function uses is a
host service reached as `host.docker.internal`. Ctrl-C (or SIGTERM) stops SAM, its containers,
DynamoDB Local and the data platform. A Docker daemon that `lambda-image.sh` started keeps running
for the next call (`scripts/lambda-image.sh stop` stops it; a daemon it did not start is never
touched).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local_runtime import aws_env, dynamodb_local, template
from local_runtime.data_platform import DataPlatformServer
from local_runtime.ports import port_is_free

ROOT = template.ROOT
IMAGE_SCRIPT = ROOT / "scripts" / "lambda-image.sh"
WORK_DIR = ROOT / ".aws-sam" / "sam-local"
BUILD_DIR = WORK_DIR / "build"
CACHE_DIR = WORK_DIR / "cache"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
BUILD_LOG = WORK_DIR / "build.log"
DOCKERD_PIDFILE = ROOT / ".local" / "docker" / "dockerd.pid"
CONTAINER_HOST = "host.docker.internal"
DEFAULT_BRIDGE_GATEWAY = "172.17.0.1"
REGION = aws_env.REGION
INVOKE_TIMEOUT_SECONDS = 300
READY_PATH = "/__sam_local_ready"
START_API_TIMEOUT_SECONDS = 240

Progress = Callable[[str], None]


class SamLocalError(Exception):
    """A problem the person running the tool can act on; the message is one line."""


class EngineUnavailable(SamLocalError):
    """No Docker engine (or no Lambda base image) can be had on this machine."""


def say(message: str) -> None:
    """Progress on standard error (standard output is kept for the function's answer)."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def _rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def _last_lines(lines: Sequence[str], count: int = 1) -> str:
    kept = [line.strip() for line in lines if line.strip()]
    return " | ".join(kept[-count:]) if kept else "no output"


# ------------------------------------------------------------------------------------------ engine


def sam_executable() -> str:
    """SAM CLI from this virtual environment (the pinned one), else from PATH."""
    beside = Path(sys.executable).parent / "sam"
    if beside.exists():
        return str(beside)
    found = shutil.which("sam")
    if found is None:
        raise SamLocalError("SAM CLI not found: run `make venv` (it is pinned in requirements-dev.txt)")
    return found


def template_variables() -> set[str]:
    """Every environment variable the template declares for a function (Globals included)."""
    loaded = template.load()
    declared = loaded.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    names = set(declared)
    for resource in template.resources("AWS::Serverless::Function").values():
        names |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    return names


def sam_environment() -> dict[str, str]:
    """The environment SAM runs in: no telemetry, a region, credentials (any: DynamoDB Local takes
    them all; SAM hands them to the containers), and none of the variables the template declares:
    SAM would give a function this shell's value of such a variable over the template's (a stray
    DYNAMODB_ENDPOINT_URL or DATA_PLATFORM_URL here would silently win over the parameters)."""
    declared = template_variables()
    env = {name: value for name, value in os.environ.items() if name not in declared}
    env["SAM_CLI_TELEMETRY"] = "0"
    # SAM asks STS for the account id before every local run; without a network that call waits
    # for DNS. A closed local port fails it at once (SAM then uses its default account id).
    env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9"
    env["AWS_MAX_ATTEMPTS"] = "1"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.setdefault("AWS_DEFAULT_REGION", REGION)
    env.setdefault("AWS_REGION", env["AWS_DEFAULT_REGION"])
    if "AWS_PROFILE" not in env:
        env.setdefault("AWS_ACCESS_KEY_ID", "local")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return env


@dataclass(frozen=True)
class Engine:
    started_daemon: bool  # lambda-image.sh started dockerd during this call


def ensure_engine(progress: Progress = print) -> Engine:
    """Run `scripts/lambda-image.sh ensure`, passing its progress lines to `progress`.
    Raises EngineUnavailable (one line: the script's last error) if no engine or image can be had."""
    if shutil.which("bash") is None:
        raise EngineUnavailable("bash is needed to run scripts/lambda-image.sh")
    lines: deque[str] = deque(maxlen=40)
    started = False
    try:
        process = subprocess.Popen(
            ["bash", str(IMAGE_SCRIPT), "ensure"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as error:
        raise EngineUnavailable(f"cannot run scripts/lambda-image.sh: {error}") from error
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.rstrip()
        lines.append(line)
        started = started or "starting dockerd" in line
        progress(line)
    if process.wait() != 0:
        errors = [line for line in lines if line.startswith("ERROR:")]
        reason = errors[-1][len("ERROR:") :].strip() if errors else _last_lines(list(lines))
        raise EngineUnavailable(f"no Docker engine with the Lambda image can run here: {reason}")
    return Engine(started_daemon=started)


def engine_available() -> bool:
    """True if `ensure_engine` succeeds (quietly)."""
    try:
        ensure_engine(progress=lambda _: None)
    except EngineUnavailable:
        return False
    return True


def our_daemon_running() -> bool:
    """A dockerd that lambda-image.sh started (its pidfile) is running."""
    try:
        pid = int(DOCKERD_PIDFILE.read_text().strip())
        return Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
    except (OSError, ValueError):
        return False


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge network: the only one containers reach."""
    try:
        result = subprocess.run(
            ["docker", "network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return DEFAULT_BRIDGE_GATEWAY
    for address in result.stdout.split():
        if address.count(".") == 3:
            return address
    return DEFAULT_BRIDGE_GATEWAY


def remove_containers(dynamodb_url: str) -> int:
    """Remove SAM's Lambda containers that were given DYNAMODB_ENDPOINT_URL=`dynamodb_url` (an
    endpoint only this run uses), e.g. after SAM had to be killed. Returns how many were removed."""
    try:
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", "label=sam.cli.container.type=lambda"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        ids = listed.stdout.split()
        if not ids:
            return 0
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{.Id}} {{range .Config.Env}}{{.}} {{end}}", *ids],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        marker = f" DYNAMODB_ENDPOINT_URL={dynamodb_url} "
        ours = [line.split(" ", 1)[0] for line in inspected.stdout.splitlines() if marker in line + " "]
        if ours:
            subprocess.run(["docker", "rm", "-f", *ours], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return len(ours)


# ------------------------------------------------------------------------------------------- build


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One `sam build` at a time into .aws-sam/sam-local (make sam-api and the tests may overlap)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with (WORK_DIR / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


BUILD_INPUTS = ("template.yaml", "samconfig.toml", "functions", "layers")
BUILD_STAMP = WORK_DIR / "build.stamp"


def sources_digest() -> str:
    """A digest of everything `sam build` reads: the template, samconfig.toml, every file under
    functions/ and layers/ (bytecode aside) and SAM CLI's version."""
    import samcli

    digest = hashlib.sha256(f"samcli {samcli.__version__}\n".encode())
    for name in BUILD_INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(f"{file.relative_to(ROOT)}\0{file.stat().st_mode & 0o111}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def build(progress: Progress = print) -> Path:
    """`sam build --cached` into .aws-sam/sam-local/build; the built template's path.

    Skipped when the sources' digest is the one of the last successful build here. Otherwise SAM's
    cache (a checksum of each function's and layer's folder and requirements) rebuilds whatever
    changed, and the built template is always rewritten from template.yaml."""
    with _build_lock():
        digest = sources_digest()
        with contextlib.suppress(OSError):
            if BUILT_TEMPLATE.is_file() and BUILD_STAMP.read_text().strip() == digest:
                progress(f"build in {_rel(BUILD_DIR)} is up to date (sources unchanged)")
                return BUILT_TEMPLATE
        BUILD_STAMP.unlink(missing_ok=True)
        built = _sam_build(progress)
        BUILD_STAMP.write_text(digest + "\n")
        return built


def _sam_build(progress: Progress, template_file: Path = template.TEMPLATE) -> Path:
    command = [
        sam_executable(),
        "build",
        "--cached",
        "--parallel",
        "--template-file",
        str(template_file),
        "--build-dir",
        str(BUILD_DIR),
        "--cache-dir",
        str(CACHE_DIR),
    ]
    started = time.monotonic()
    progress(f"sam build --cached into {_rel(BUILD_DIR)} (log: {_rel(BUILD_LOG)})")
    with BUILD_LOG.open("w") as log:
        result = subprocess.run(
            command,
            cwd=ROOT,
            env=sam_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0 or not BUILT_TEMPLATE.exists():
        output = BUILD_LOG.read_text(errors="replace").splitlines()
        errors = [line for line in output if line.strip().startswith(("Error", "ERROR")) or "Error:" in line]
        reason = _last_lines(errors or output)
        raise SamLocalError(f"sam build failed: {reason} (full log: {_rel(BUILD_LOG)})")
    progress(f"built in {time.monotonic() - started:.1f}s")
    return BUILT_TEMPLATE


# ---------------------------------------------------------------------------------------- backends


def functions() -> dict[str, str]:
    """The template's functions: logical id -> the use case folder of its CodeUri (functions/<x>/)."""
    return {
        logical_id: Path(str(resource["Properties"]["CodeUri"])).name
        for logical_id, resource in template.resources("AWS::Serverless::Function").items()
    }


def function_for_event(event: Path | str) -> str | None:
    """The function a sample event in events/ is for: `events/<use_case>[_<anything>].json` goes to
    the function whose CodeUri is `functions/<use_case>/` (the longest match wins)."""
    stem = Path(event).stem
    matches = [
        (len(use_case), logical_id)
        for logical_id, use_case in functions().items()
        if stem == use_case or stem.startswith(use_case + "_")
    ]
    return max(matches)[1] if matches else None


def seed_tables(endpoint: str) -> None:
    """Create the template's tables on `endpoint` and put the sample data, as `make run` does."""
    layer = str(ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    import boto3

    from local_runtime.seed import seed_at
    from local_runtime.tables import create_tables

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=aws_env.DUMMY_CREDENTIALS["key"],
        aws_secret_access_key=aws_env.DUMMY_CREDENTIALS["secret"],
    )
    create_tables(client)
    seed_at(endpoint, REGION)


@dataclass
class Backends:
    """The host services the containers use, reached from them as host.docker.internal."""

    dynamodb: dynamodb_local.DynamoDBLocal
    data_platform: DataPlatformServer
    gateway: str

    @property
    def dynamodb_url(self) -> str:
        """DynamoDB Local as a container reaches it."""
        return f"http://{CONTAINER_HOST}:{self.dynamodb.port}"

    @property
    def data_platform_port(self) -> int:
        return int(self.data_platform.server_address[1])

    @property
    def data_platform_url(self) -> str:
        """The data platform's POST /orders as a container reaches it."""
        return f"http://{CONTAINER_HOST}:{self.data_platform_port}/orders"

    @property
    def data_platform_host_url(self) -> str:
        """The data platform's GET /orders as this machine reaches it."""
        host = str(self.data_platform.server_address[0])
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.data_platform_port}/orders"

    def sam_options(self) -> list[str]:
        """The options every `sam local` command needs to run the functions on these services (and
        the local token issuer's public key, which the authorizer trusts under `sam local` only)."""
        from local_runtime.issuer import public_key_parameter

        return [
            "--skip-pull-image",
            "--region",
            REGION,
            "--add-host",
            f"{CONTAINER_HOST}:{self.gateway}",
            "--parameter-overrides",
            f"DynamoDbEndpointUrl={self.dynamodb_url} DataPlatformUrl={self.data_platform_url}"
            f" LocalTokenPublicKey={public_key_parameter()} TracingDisabled=true"
            f" LocalDataPlatformToken={self.data_platform.credential}",
        ]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.data_platform.stop()
        self.dynamodb.stop()


def start_data_platform(gateway: str, port: int = 0) -> DataPlatformServer:
    """The local data platform on the bridge address (containers reach only that one), or on every
    address if that cannot be bound."""
    try:
        server = DataPlatformServer(host=gateway, port=port)
    except OSError:
        try:
            server = DataPlatformServer(host="0.0.0.0", port=port)
        except OSError as error:
            raise SamLocalError(f"cannot start the local data platform on port {port}: {error.strerror}") from error
    return server.start()


def start_backends(gateway: str | None = None, *, progress: Progress = print) -> Backends:
    """DynamoDB Local (in memory, a free port) with the tables and sample data, and the data platform."""
    gateway = gateway or bridge_gateway()
    progress("starting DynamoDB Local (in memory)")
    try:
        dynamodb = dynamodb_local.start(progress=progress)
    except dynamodb_local.SetupError as error:
        raise SamLocalError(str(error)) from error
    try:
        progress(f"creating the tables and seeding the sample data on {dynamodb.endpoint}")
        seed_tables(dynamodb.endpoint)
        data_platform = start_data_platform(gateway)
    except BaseException:
        dynamodb.stop()
        raise
    backends = Backends(dynamodb=dynamodb, data_platform=data_platform, gateway=gateway)
    progress(f"data platform on {backends.data_platform_host_url} (containers: {backends.data_platform_url})")
    return backends


# ------------------------------------------------------------------------------------------ invoke


def _stop_process(process: subprocess.Popen[Any], timeout: float = 30) -> None:
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


def _pump(stream: IO[str], sink: Callable[[str], None], kept: deque[str]) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        kept.append(line)
        sink(line)


def _parse_answer(stdout: str) -> Any:
    text = stdout.strip()
    with contextlib.suppress(ValueError):
        return json.loads(text)
    for line in reversed(text.splitlines()):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    raise SamLocalError(f"sam local invoke printed no JSON answer: {_last_lines(text.splitlines())}")


def invoke(
    logical_id: str,
    event_path: Path | str,
    backends: Backends,
    *,
    built_template: Path = BUILT_TEMPLATE,
    logs: Callable[[str], None] | None = None,
    timeout: float = INVOKE_TIMEOUT_SECONDS,
) -> Any:
    """`sam local invoke <logical_id> -e <event_path>` on the backends; the function's answer (JSON).
    SAM's and the container's log lines go to `logs` (dropped if None)."""
    command = [
        sam_executable(),
        "local",
        "invoke",
        logical_id,
        "--event",
        str(event_path),
        "--template-file",
        str(built_template),
        *backends.sam_options(),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=sam_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # Ctrl-C reaches us; we stop SAM ourselves
    )
    assert process.stdout is not None and process.stderr is not None
    kept: deque[str] = deque(maxlen=60)
    pump = threading.Thread(
        target=_pump, args=(process.stderr, logs or (lambda _: None), kept), daemon=True, name="sam-invoke-logs"
    )
    pump.start()
    try:
        stdout = process.stdout.read()
        process.wait(timeout=timeout)
    except BaseException:
        _stop_process(process)
        remove_containers(backends.dynamodb_url)
        raise
    finally:
        pump.join(timeout=5)
    if process.returncode != 0:
        errors = [line for line in kept if "Error" in line or "error" in line]
        raise SamLocalError(f"sam local invoke {logical_id} failed: {_last_lines(errors or list(kept))}")
    return _parse_answer(stdout)


# --------------------------------------------------------------------------------------- start-api


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
        self._shown: _WithoutShutdownNoise | None = None
        self._pump: threading.Thread | None = None

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
            self._shown = _WithoutShutdownNoise(_to_stderr, drop=READY_PATH, on_first=False)
            stream = io.TextIOWrapper(self.process.stdout, errors="replace")
            self._pump = threading.Thread(
                target=_pump, args=(stream, self._shown, deque(maxlen=1)), daemon=True, name="sam-api-output"
            )
            self._pump.start()
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
            _stop_process(process)
        if self._pump is not None:
            self._pump.join(timeout=5)
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


def prepare(progress: Progress = print) -> Backends:
    """`build` and `start_backends` side by side (a few seconds each); the running backends."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam-build") as pool:
        built = pool.submit(build, progress)
        try:
            backends = start_backends(progress=progress)
        except BaseException:
            with contextlib.suppress(BaseException):
                built.result()
            raise
        try:
            built.result()
        except BaseException:
            backends.stop()
            raise
    return backends


# -------------------------------------------------------------------------------------------- main


class _WithoutShutdownNoise:
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


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _shield() -> None:
    """A second Ctrl-C must not cut the clean-up short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _check_event(logical_id: str, event: str) -> Path:
    known = functions()
    if logical_id not in known:
        raise SamLocalError(f"no function {logical_id!r} in template.yaml; one of: {', '.join(sorted(known))}")
    path = Path(event)
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.is_file():
        raise SamLocalError(f"event file {event} not found (samples: events/*.json)")
    try:
        json.loads(path.read_text())
    except ValueError as error:
        raise SamLocalError(f"event file {event} is not JSON: {error}") from error
    return path


def _daemon_note(engine: Engine | None, always: bool) -> None:
    if engine is not None and (engine.started_daemon or always) and our_daemon_running():
        say("the Docker daemon scripts/lambda-image.sh started keeps running (stop it: scripts/lambda-image.sh stop)")


def run_invoke(logical_id: str, event: str) -> int:
    event_path = _check_event(logical_id, event)
    engine = ensure_engine(progress=_to_stderr)
    backends = prepare(progress=say)
    try:
        say(f"sam local invoke {logical_id} --event {event} (DynamoDB Local: {backends.dynamodb_url})")
        started = time.monotonic()
        answer = invoke(logical_id, event_path, backends, logs=_WithoutShutdownNoise(_to_stderr))
        say(f"{logical_id} answered in {time.monotonic() - started:.1f}s:")
        print(json.dumps(answer, indent=2, ensure_ascii=False), flush=True)
        received = [order["orderId"] for order in backends.data_platform.store.orders.values()]
        if received:
            say(f"the local data platform received order(s): {', '.join(received)}")
    finally:
        _shield()
        backends.stop()
        _daemon_note(engine, always=False)
    failed = isinstance(answer, dict) and "errorType" in answer
    return 1 if failed else 0


def run_start_api(port: int, host: str) -> int:
    if not port_is_free(port, host):
        raise SamLocalError(f"port {port} is in use: free it or choose another one (make sam-api PORT={port + 100})")
    engine = ensure_engine(progress=_to_stderr)
    backends = prepare(progress=say)
    api: SamApi | None = None
    try:
        api = SamApi(backends, port=port, host=host)
        say(f"sam local start-api --warm-containers EAGER on {api.url} (one container per function: ~20s)")
        started = time.monotonic()
        api.start().wait_ready()
        lines = [f"  {method:<5} {api.url}{path}  -> {function}" for method, path, function in routes()]
        say(f"ready in {time.monotonic() - started:.0f}s: the API on {api.url} (real sam local, Docker)")
        print("\n".join(lines), file=sys.stderr)
        say(f"DynamoDB Local: {backends.dynamodb.endpoint}; data platform: {backends.data_platform_host_url}")
        say('tokens: -H "Authorization: Bearer $(make -s token USER=user-1)" (ADMIN=1 for catalogue administration)')
        say("Ctrl-C stops SAM, its containers, DynamoDB Local and the data platform")
        assert api.process is not None
        try:
            api.process.wait()
        except KeyboardInterrupt:
            return 0  # Ctrl-C / SIGTERM once serving: the normal way to stop
        say(f"sam local start-api exited by itself with status {api.process.returncode}")
        return 1
    finally:
        _shield()
        say("stopping sam local start-api, DynamoDB Local and the data platform")
        if api is not None:
            api.stop()
        backends.stop()
        say("stopped")
        _daemon_note(engine, always=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_runtime.sam_local",
        description="The real sam local (Docker) on DynamoDB Local with the sample data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    invoke_parser = commands.add_parser("invoke", help="sam local invoke a function with an event file")
    invoke_parser.add_argument("function", help="the function's logical id, e.g. BalanceInquiryFunction")
    invoke_parser.add_argument("event", help="an event file, e.g. events/balance_inquiry.json")
    api_parser = commands.add_parser("start-api", help="sam local start-api with warm containers")
    api_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    api_parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    aws_env.for_emulators()  # this process's own clients (seeding DynamoDB Local), whatever the shell has

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)  # also when started with SIGINT ignored (`&`)
    try:
        if args.command == "invoke":
            return run_invoke(args.function, args.event)
        return run_start_api(args.port, args.host)
    except SamLocalError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        say("interrupted; everything this run started is stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
