"""`make run`: the whole API on this machine.

    python -m local_runtime.run [--port 3000] [--data-platform-port 3001] [--docs-port 3002]
                                [--persist [--persist-dir .local]] [--queue-time-scale 0.0167]
                                [--max-instances 8]

DynamoDB Local (in memory, or with --persist under .local/dynamodb), the template's tables and
sample data, every HTTP API route on http://127.0.0.1:PORT through the local API Gateway
(`local_runtime.api`), each function instance in a process of its own (at most --max-instances
per function), the order stream flowing through the pipe and the rules to their targets
(functions, and in-memory SQS queues read by their functions' SQS event sources, with the queues'
times scaled by --queue-time-scale; with --persist their messages are kept under .local/queues), a local data
platform listing the orders it received, and the API's OpenAPI document with Swagger UI on
http://127.0.0.1:3002/docs. Ctrl-C stops it all.

With --persist, a stop of any kind, kill -9 included, loses no event of a committed order: the
pipe's checkpoint moves only once the bus has written what it accepted to its journal
(.local/events), the queues keep their messages (.local/queues) and the local data platform what
it received (.local/data-platform); the next start delivers what was owed, at least once.
DynamoDB Local and the function instances end with this process however it ends, and a second
runtime on the same data is refused while the first one's DynamoDB Local lives.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runtime import aws_env, dynamodb_local, ports, template
from local_runtime.dynamodb_local import SetupError

HOST = "127.0.0.1"
REGION = aws_env.REGION
RUNNING_ENDPOINT = template.ROOT / ".local" / "dynamodb-endpoint"
"""Where `make run` writes its DynamoDB Local's endpoint while it runs (for `make ledger-check`)."""
STREAM_POLL_SECONDS = 0.25  # Lambda's stream pollers read each shard about four times a second


def _quiet_process_env() -> None:
    """This process's own clients (tables, seed, stream) get dummy credentials and a region, whatever
    the shell has; SAM's telemetry stays off. Functions get theirs from the template (see
    functions.LocalLambda)."""
    aws_env.for_emulators()
    layer = str(template.ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)


@dataclass
class LocalRuntime:
    """Everything `make run` starts, in the order it starts; `stop` stops it in reverse."""

    api_port: int = 3000
    data_platform_port: int = 3001
    docs_port: int | None = None  # None: no docs page (make run: 3002)
    dynamodb_port: int | None = None
    dynamodb_endpoint: str | None = None  # an already running DynamoDB Local (tests)
    persist: bool = False
    persist_dir: Path = dynamodb_local.DATA_DIR.parent  # with `persist`: dynamodb/, queues/, events/, data-platform/
    seed: bool = True
    log_level: str = "INFO"
    retry_first_seconds: float = 0.2
    retry_cap_seconds: float = 5.0
    queue_time_scale: float = 1 / 60  # local seconds per second of the queues' visibility timeouts
    max_receive_count: int | None = None  # replaces every redrive policy's maxReceiveCount (tests)
    max_instances: int = 0  # instances (processes) per function; 0: functions.DEFAULT_MAX_INSTANCES
    function_log: Callable[[str], None] | None = None  # each line functions write (default: to stderr)
    progress: Callable[[str], None] = print
    dynamodb: Any = None
    data_platform: Any = None
    functions: Any = None
    events: Any = None
    api: Any = None
    docs: Any = None
    endpoint: str = ""
    _stops: list[Callable[[], None]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path | None:
        """Where DynamoDB Local keeps its data (and the pipe its stream checkpoints), if kept."""
        return self.persist_dir / "dynamodb" if self.persist else None

    @property
    def queue_dir(self) -> Path | None:
        """Where the queues keep their messages, if kept."""
        return self.persist_dir / "queues" if self.persist else None

    @property
    def journal_dir(self) -> Path | None:
        """Where the event buses keep the deliveries they accepted and have not finished, if kept."""
        return self.persist_dir / "events" if self.persist else None

    @property
    def data_platform_file(self) -> Path | None:
        """Where the local data platform keeps the orders it received, if kept."""
        return self.persist_dir / "data-platform" / "orders.jsonl" if self.persist else None

    def start(self) -> LocalRuntime:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        _quiet_process_env()
        for port, what, option in (
            (self.api_port, "the API", "--port"),
            (self.data_platform_port, "the data platform", "--data-platform-port"),
            (self.docs_port, "the docs page", "--docs-port"),
        ):
            if port and not ports.port_is_free(port):
                raise SetupError(f"port {port} for {what} is in use: stop what uses it, or pick another with {option}")
        if self.dynamodb_endpoint:
            endpoint = self.dynamodb_endpoint
        else:
            dynamodb_local.java()
            where = f"data kept in {self.data_dir}" if self.persist else "in memory"
            self.progress(f"starting DynamoDB Local ({where}) ...")
            self.dynamodb = dynamodb_local.start(self.dynamodb_port, self.data_dir, self.progress)
            self._stops.append(self.dynamodb.stop)
            endpoint = self.dynamodb.endpoint
        self.endpoint = endpoint

        import boto3

        from local_runtime.tables import create_tables

        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
        self.progress("creating the tables of template.yaml ...")
        create_tables(client)

        from local_runtime.data_platform import DataPlatformServer

        self.data_platform = DataPlatformServer(HOST, self.data_platform_port, self.data_platform_file).start()
        self._stops.append(self.data_platform.stop)

        from local_runtime.functions import DEFAULT_MAX_INSTANCES, LocalLambda, stacks
        from local_runtime.issuer import public_key_parameter

        self.progress("reading template.yaml with SAM CLI ...")
        stack_list = stacks(
            {
                "DynamoDbEndpointUrl": endpoint,
                "DataPlatformUrl": self.data_platform.orders_url,
                "LogLevel": self.log_level,
                "LocalTokenPublicKey": public_key_parameter(),
                "LocalDataPlatformToken": self.data_platform.credential,  # what the data platform expects
                "TracingDisabled": "true",
            },
            region=REGION,
        )
        self.functions = LocalLambda(
            stack_list,
            region=REGION,
            max_instances=self.max_instances or DEFAULT_MAX_INSTANCES,
            **({"log": self.function_log} if self.function_log else {}),
        )
        self._stops.append(self.functions.stop)

        if self.seed:
            self.progress("seeding a sample catalogue, coupon campaigns and users ...")
            from local_runtime.seed import seed_at

            seed_at(endpoint, REGION)

        from local_runtime.events import Backoff, EventRuntime

        self.progress("starting the order stream, the event bus and its rules ...")
        self.events = EventRuntime(
            self.functions,
            endpoint,
            region=REGION,
            backoff=Backoff(self.retry_first_seconds, self.retry_cap_seconds),
            data_dir=self.data_dir,
            queue_dir=self.queue_dir,
            journal_dir=self.journal_dir,
            queue_time_scale=self.queue_time_scale,
            max_receive_count=self.max_receive_count,
            poll_seconds=STREAM_POLL_SECONDS,
        ).start()
        self._stops.append(self.events.stop)

        self.progress("starting one instance of each function ...")
        self.functions.start()

        from local_runtime.api import LocalApi

        self.progress("starting the HTTP API ...")
        self.api = LocalApi(self.functions, host=HOST, port=self.api_port).start()
        self._stops.append(self.api.stop)

        if self.docs_port is not None:
            from local_runtime.docs import DocsServer

            self.docs = DocsServer(self.api.url, HOST, self.docs_port).start()
            self._stops.append(self.docs.stop)

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"while stopping: {error}", file=sys.stderr)

    @property
    def url(self) -> str:
        return self.api.url  # type: ignore[no-any-return]

    def banner(self) -> str:
        url, platform = self.url, self.data_platform.orders_url
        lines = [
            "",
            f"Shop API on {url}  (DynamoDB Local on {self.endpoint}, data platform on {platform})",
            *([f"API docs (OpenAPI, Swagger UI): {self.docs.url}"] if self.docs is not None else []),
            "",
            "Routes:",
            *(f"  {method:<5} {url}{path:<34} {function}" for method, path, function in self.api.routes()),
            "",
            "Events:",
            *(f"  {line}" for line in self.events.describe()),
            "",
            "Try (every route but the catalogue's needs a token: make -s token USER=<id> [ADMIN=1]):",
            f"  curl -s {url}/products",
            '  AUTH="Authorization: Bearer $(make -s token USER=user-1)"',
            f'  curl -s {url}/users/user-1/balance -H "$AUTH"',
            f"  curl -s -X POST {url}/users/user-1/balance/charge -H \"$AUTH\" -H 'Content-Type: application/json' "
            "-d '{\"amount\": 50000}'",
            f"  curl -s -X POST {url}/coupons/c-flash/issue -H \"$AUTH\" -H 'Content-Type: application/json' -d '{{}}'",
            f'  curl -s {url}/users/user-1/coupons -H "$AUTH"',
            f"  curl -s -X POST {url}/orders -H \"$AUTH\" -H 'Content-Type: application/json' "
            '-d \'{"items": [{"productId": "p-keyboard", "quantity": 1}]}\'',
            f"  curl -s {platform}        # the paid order reached the data platform",
            f"  curl -s {url}/products/popular",
            "",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)


@contextlib.contextmanager
def running(**options: Any) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(**options).start()
    try:
        yield runtime
    finally:
        runtime.stop()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("local_runtime").setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "samcli", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_runtime.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000), help="API port (3000)")
    parser.add_argument("--data-platform-port", type=int, default=3001, help="local data platform port (3001)")
    parser.add_argument("--docs-port", type=int, default=3002, help="the API docs page's port (3002)")
    parser.add_argument("--dynamodb-port", type=int, default=None, help="DynamoDB Local port (default: a free one)")
    parser.add_argument("--persist", action="store_true", help="keep the tables and the queues' messages")
    parser.add_argument(
        "--persist-dir", type=Path, default=dynamodb_local.DATA_DIR.parent, help="where --persist keeps them (.local)"
    )
    parser.add_argument("--no-seed", action="store_true", help="do not put the sample data")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--queue-time-scale",
        type=float,
        default=1 / 60,
        help="local seconds per second of the queues' visibility timeouts and batching windows (1/60)",
    )
    parser.add_argument(
        "--max-instances",
        type=int,
        default=0,
        help="instances (processes) per function at most; a call waits while all are busy (2 x cores, >= 8)",
    )
    args = parser.parse_args(argv)
    _configure_logging()

    def progress(message: str) -> None:
        print(f"==> {message}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    started = time.monotonic()
    runtime = LocalRuntime(
        api_port=args.port,
        data_platform_port=args.data_platform_port,
        docs_port=args.docs_port,
        dynamodb_port=args.dynamodb_port,
        persist=args.persist,
        persist_dir=args.persist_dir.resolve(),
        seed=not args.no_seed,
        log_level=args.log_level,
        queue_time_scale=args.queue_time_scale,
        max_instances=args.max_instances,
        progress=progress,
    )
    try:
        runtime.start()
    except SetupError as error:
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\n==> interrupted; everything started was stopped", flush=True)
        return 130
    try:
        RUNNING_ENDPOINT.parent.mkdir(parents=True, exist_ok=True)
        RUNNING_ENDPOINT.write_text(runtime.endpoint)
        print(runtime.banner(), flush=True)
        progress(f"ready in {time.monotonic() - started:.1f}s")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C does not cut the stop short; nothing is lost by a kill -9 either.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\n==> stopping (requests under way finish first) ...", flush=True)
        RUNNING_ENDPOINT.unlink(missing_ok=True)
        runtime.stop()
        print("==> stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
