"""Cold start per function: the CPU time of importing its module in a fresh interpreter, as a ratio
to `import boto3` plus one DynamoDB client (the least a function on DynamoDB imports and builds).

Each function is imported as Lambda does (by path, as module "app", its code directory first on
the path, the layer after it) with the environment the template gives it, its plain values, and
what Lambda adds (`LAMBDA_TASK_ROOT`, the function's name, a region): tracing is **on**, as
deployed, and the X-Ray SDK must be loaded by the import (checked; the authorizer traces without
it, see its module), since the deployed import is what matters. The same import with
`POWERTOOLS_TRACE_DISABLED=true` (the local modes) is beside it, and must not load the SDK.
CPU time rather than wall-clock: an import of cached files is CPU-bound, and on this shared 2-core
machine the CPU time of a process drifts far less than its elapsed time. Targets are interleaved
round by round, and the least of the rounds is kept: what the import itself costs, since other
processes (evicting caches, sharing the cores) only ever add to it.

`python -m bench.coldstart` runs this alone (`--runs n`, default 7).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "common"
WITHOUT_XRAY_SDK = {"AuthorizerFunction"}
"""Traced by Lambda alone, without the SDK (functions/authorizer/app.py says why)."""

# Prints the CPU seconds the import took and whether the X-Ray SDK was loaded by it.
_IMPORT = """
import importlib.util, sys, time
started = time.process_time()
if sys.argv[1] == "boto3":
    import boto3
    boto3.client("dynamodb")
else:
    spec = importlib.util.spec_from_file_location("app", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
took = time.process_time() - started
print(took, "aws_xray_sdk.core" in sys.modules)
"""


def functions() -> dict[str, dict[str, Any]]:
    """Every function of the template: its code directory and whether an HTTP route calls it."""
    from local_runtime import template

    found = {}
    for name, resource in template.resources("AWS::Serverless::Function").items():
        properties = resource["Properties"]
        events = (properties.get("Events") or {}).values()
        found[name] = {
            "code": ROOT / str(properties["CodeUri"]),
            "route": any(event.get("Type") == "HttpApi" for event in events),
            "variables": plain_values((properties.get("Environment") or {}).get("Variables") or {}),
        }
    return found


def plain_values(variables: dict[str, Any]) -> dict[str, str]:
    """The variables whose value is a string, or a parameter's default (the stack's names and ARNs
    are left out: no import reads them)."""
    from local_runtime import template

    parameters = template.load().get("Parameters", {})
    plain = {}
    for key, value in variables.items():
        if isinstance(value, dict) and set(value) == {"Ref"} and "Default" in parameters.get(value["Ref"], {}):
            value = parameters[value["Ref"]]["Default"]
        if isinstance(value, str):
            plain[key] = value
    return plain


def environment(name: str, code: Path, variables: dict[str, str], tracing: bool) -> dict[str, str]:
    """A Lambda function's environment: the template's plain values, what Lambda adds, no SAM CLI."""
    from local_runtime import template

    plain = plain_values(
        template.load().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    kept = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG") or key.startswith(("LC_", "PYTHONHASH"))
    }
    return {
        **kept,
        **plain,
        **variables,
        "POWERTOOLS_SERVICE_NAME": "shop",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PYTHONPATH": os.pathsep.join([str(code), str(LAYER)]),
    }


def _sample(target: str, environ: dict[str, str], cwd: Path) -> tuple[float, bool]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT, target],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {target} failed:\n{done.stderr[-3000:]}")
    seconds, xray = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), xray == "True"


def measure(runs: int = 7) -> dict[str, Any]:
    """The least CPU seconds of each function's import, tracing on and off, and of boto3 with a client;
    the ratios to the latter. Fails if tracing on did not load the X-Ray SDK, or off did."""
    found = functions()
    base_env = environment("bench", ROOT, {}, tracing=False)
    samples: dict[str, list[float]] = {"boto3": []}
    targets = []
    for name, function in found.items():
        for tracing in (True, False):
            key = f"{name}:{'on' if tracing else 'off'}"
            samples[key] = []
            env = environment(name, function["code"], function["variables"], tracing)
            targets.append((key, str(function["code"] / "app.py"), env, function["code"], tracing))
    for _ in range(runs):
        samples["boto3"].append(_sample("boto3", base_env, ROOT)[0])
        for key, path, env, cwd, tracing in targets:
            seconds, xray = _sample(path, env, cwd)
            if xray != (tracing and key.split(":")[0] not in WITHOUT_XRAY_SDK):
                raise AssertionError(f"{key}: the X-Ray SDK was {'not ' if tracing else ''}loaded by the import")
            samples[key].append(seconds)
    boto3 = min(samples["boto3"])
    rows = {}
    for name, function in found.items():
        on = min(samples[f"{name}:on"])
        off = min(samples[f"{name}:off"])
        rows[name] = {
            "route": function["route"],
            "tracing_on_vs_boto3_client": on / boto3,
            "tracing_off_vs_boto3_client": off / boto3,
            "noisy_cpu_ms": {"tracing_on": round(on * 1000, 1), "tracing_off": round(off * 1000, 1)},
        }
    return {"runs": runs, "boto3_client_cpu_ms": round(boto3 * 1000, 1), "functions": rows}


LIMIT = 1.4
"""A route function's import, tracing on, at most this many times `import boto3` plus a client."""


def report(results: dict[str, Any], table: Any) -> bool:
    """Print the table; False when a route function is over the limit."""
    print(
        "\n10. Cold start: CPU time of each function's import in a fresh interpreter, "
        f"ratio to import boto3 + a DynamoDB client ({results['boto3_client_cpu_ms']} ms here), least of "
        f"{results['runs']}"
    )
    rows = []
    within = True
    for name, row in sorted(results["functions"].items(), key=lambda item: (not item[1]["route"], item[0])):
        on = row["tracing_on_vs_boto3_client"]
        over = row["route"] and on > LIMIT
        within = within and not over
        rows.append(
            [
                name,
                "route" if row["route"] else "event/authorizer",
                round(on, 2),
                round(row["tracing_off_vs_boto3_client"], 2),
                f"over {LIMIT}" if over else "",
            ]
        )
    print(table(["function", "kind", "tracing on (as deployed)", "tracing off (local)", ""], rows))
    return within


def main() -> int:
    from bench.__main__ import table

    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 7
    results = measure(runs)
    return 0 if report(results, table) else 1


if __name__ == "__main__":
    raise SystemExit(main())
