"""The authorizer's cost: its cold start (import time, in fresh interpreters) and its warm cost
(a token verified now vs one remembered), as ratios; absolute times only for orientation."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Imports the file as Lambda does (by path, as module "app") and prints the seconds it took.
_IMPORT = """
import importlib.util, sys, time
started = time.perf_counter()
if sys.argv[1] == "boto3":
    import boto3
else:
    spec = importlib.util.spec_from_file_location("app", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def _import_seconds(target: str, runs: int, environ: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT, target],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def cold_start(runs: int = 7) -> dict[str, Any]:
    """Median import time of the authorizer's module, of a route function's, and of boto3 alone."""
    from local_runtime.issuer import public_key_parameter

    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]),
        "LOCAL_TOKEN_PUBLIC_KEY": public_key_parameter(),
        "AWS_SAM_LOCAL": "true",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    boto3 = _import_seconds("boto3", runs, environ)
    authorizer = _import_seconds(str(ROOT / "functions" / "authorizer" / "app.py"), runs, environ)
    route = _import_seconds(str(ROOT / "functions" / "balance_inquiry" / "app.py"), runs, environ)
    return {
        "runs": runs,
        "authorizer_vs_boto3": authorizer / boto3,
        "authorizer_vs_route_function": authorizer / route,
        "noisy_absolute_ms": {
            "authorizer": round(authorizer * 1000, 1),
            "balance_inquiry_function": round(route * 1000, 1),
            "boto3": round(boto3 * 1000, 1),
        },
    }


def warm(misses: int = 300, hits: int = 3000) -> dict[str, Any]:
    """Seconds per authorization when the token is verified (a new token each time: RS256 and the
    claims) and when it is remembered (the same token again), in one warm authorizer."""
    from local_runtime.issuer import issue, public_key_parameter
    from shop.auth.authorizer import Authorizer, verifier_from

    authorizer = Authorizer(verifier_from({"LOCAL_TOKEN_PUBLIC_KEY": public_key_parameter(), "AWS_SAM_LOCAL": "true"}))
    events = [{"identitySource": [f"Bearer {issue(f'bench-{n}')}"]} for n in range(misses)]
    authorizer(events[0])  # warm: imports and first use done
    authorizer._cache.clear()
    started = time.perf_counter()
    for event in events:
        answer, _ = authorizer(event)
        assert answer["isAuthorized"] is True
    miss = (time.perf_counter() - started) / misses
    verifications = authorizer.verifications
    started = time.perf_counter()
    for _ in range(hits):
        authorizer(events[0])
    hit = (time.perf_counter() - started) / hits
    assert authorizer.verifications == verifications, "a remembered token was verified again"
    refused_started = time.perf_counter()
    for _ in range(misses):
        authorizer({"identitySource": ["Bearer garbage.not.token"]})
    garbage = (time.perf_counter() - refused_started) / misses
    return {
        "misses": misses,
        "hits": hits,
        "miss_vs_hit": miss / hit,
        "garbage_refusal_vs_miss": garbage / miss,
        "noisy_absolute_us": {
            "miss": round(miss * 1e6, 1),
            "hit": round(hit * 1e6, 2),
            "garbage": round(garbage * 1e6, 1),
        },
    }
