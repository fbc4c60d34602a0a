"""The two command lines, `invoke` (make invoke) and `start-api` (make sam-api): each step's progress
on standard error, Ctrl-C or SIGTERM stopping everything the run started."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local_runtime import aws_env
from local_runtime.ports import port_is_free
from local_runtime.sam_local.backends import prepare
from local_runtime.sam_local.child_process import WithoutShutdownNoise, to_stderr
from local_runtime.sam_local.engine import Engine, ensure_engine, our_daemon_running
from local_runtime.sam_local.invocation import functions, invoke
from local_runtime.sam_local.sam_cli import SamLocalError, say
from local_runtime.sam_local.start_api import SamApi, routes


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
    engine = ensure_engine(progress=to_stderr)
    backends = prepare(progress=say)
    try:
        say(f"sam local invoke {logical_id} --event {event} (DynamoDB Local: {backends.dynamodb_url})")
        started = time.monotonic()
        answer = invoke(logical_id, event_path, backends, logs=WithoutShutdownNoise(to_stderr))
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
    engine = ensure_engine(progress=to_stderr)
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
