"""SAM CLI as a child process: where it is, the environment it runs in, where its work goes, and
the errors and progress lines every step shares."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from local_runtime import aws_env, template

ROOT = template.ROOT
WORK_DIR = ROOT / ".aws-sam" / "sam-local"
BUILD_DIR = WORK_DIR / "build"
CACHE_DIR = WORK_DIR / "cache"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
BUILD_LOG = WORK_DIR / "build.log"
CONTAINER_HOST = "host.docker.internal"
REGION = aws_env.REGION

Progress = Callable[[str], None]


class SamLocalError(Exception):
    """A problem the person running the tool can act on; the message is one line."""


def say(message: str) -> None:
    """Progress on standard error (standard output is kept for the function's answer)."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def shown_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def last_lines(lines: Sequence[str], count: int = 1) -> str:
    kept = [line.strip() for line in lines if line.strip()]
    return " | ".join(kept[-count:]) if kept else "no output"


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
