"""The Docker engine the containers run on: `scripts/lambda-image.sh ensure` (a daemon and the Lambda
base image), the bridge address containers reach the host on, and the removal of SAM's containers."""

from __future__ import annotations

import shutil
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from local_runtime.sam_local.sam_cli import ROOT, Progress, SamLocalError, last_lines

IMAGE_SCRIPT = ROOT / "scripts" / "lambda-image.sh"
DOCKERD_PIDFILE = ROOT / ".local" / "docker" / "dockerd.pid"
DEFAULT_BRIDGE_GATEWAY = "172.17.0.1"


class EngineUnavailable(SamLocalError):
    """No Docker engine (or no Lambda base image) can be had on this machine."""


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
        reason = errors[-1][len("ERROR:") :].strip() if errors else last_lines(list(lines))
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
