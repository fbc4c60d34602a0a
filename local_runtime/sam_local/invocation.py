"""`sam local invoke` of one function with an event file, on the backends."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_runtime import template
from local_runtime.sam_local.backends import Backends
from local_runtime.sam_local.child_process import pump_lines, stop_process
from local_runtime.sam_local.engine import remove_containers
from local_runtime.sam_local.sam_cli import (
    BUILT_TEMPLATE,
    ROOT,
    SamLocalError,
    last_lines,
    sam_environment,
    sam_executable,
)

INVOKE_TIMEOUT_SECONDS = 300


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


def _parse_answer(stdout: str) -> Any:
    text = stdout.strip()
    with contextlib.suppress(ValueError):
        return json.loads(text)
    for line in reversed(text.splitlines()):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    raise SamLocalError(f"sam local invoke printed no JSON answer: {last_lines(text.splitlines())}")


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
        target=pump_lines, args=(process.stderr, logs or (lambda _: None), kept), daemon=True, name="sam-invoke-logs"
    )
    pump.start()
    try:
        stdout = process.stdout.read()
        process.wait(timeout=timeout)
    except BaseException:
        stop_process(process)
        remove_containers(backends.dynamodb_url)
        raise
    finally:
        pump.join(timeout=5)
    if process.returncode != 0:
        errors = [line for line in kept if "Error" in line or "error" in line]
        raise SamLocalError(f"sam local invoke {logical_id} failed: {last_lines(errors or list(kept))}")
    return _parse_answer(stdout)
