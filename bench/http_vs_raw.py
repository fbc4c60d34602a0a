"""Coupon issue through `make run`'s HTTP API beside the same write as raw boto3, on one DynamoDB Local.

The HTTP side is the whole local runtime (`local_runtime.run.LocalRuntime`: its gateway, one
process per function instance) issuing coupons of a campaign too large to sell out, each request
for a new user: `POST /coupons/{id}/issue`. The raw side sends, from this process, the
`TransactWriteItems` that issue makes (take one from the campaign on condition some are left, put
the issued coupon on condition the user holds none), with an issued-coupon item read back from the
HTTP side, so both write the same bytes. Both sides run with the same number of clients, after a
warm-up, alternating (HTTP, raw, HTTP, raw) so that a change of the machine's load hits both.
Then 64 HTTP clients for a while: how many answers were 5xx (or no answer at all).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLIENTS = 16
OVERLOAD_CLIENTS = 64
WARM_UP_SECONDS = 2.0
WARM_UP_LIMIT_SECONDS = 60.0
ROUND_SECONDS = 4.0
ROUNDS = 2
OVERLOAD_SECONDS = 4.0
CAMPAIGN = 100_000_000
TOKENS = 4_000  # more than the HTTP rounds send at the rates seen here; more are signed on demand


class _Connection:
    """One client's keep-alive HTTP/1.1 connection (`http.client`: the clients share the machine's
    cores with the server they measure, so they are the lightest the standard library has; a
    `requests.Session` spent about 2 ms of CPU a request here)."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, token: str) -> int:
        """POST a JSON body with the token: the answer's status, or 0 when none came."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            self._connection.request("POST", path, body=body, headers=headers)
            answer = self._connection.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = None
            return 0
        if answer.will_close:
            self._connection.close()
            self._connection = None
        return answer.status


def _process_cpu_seconds() -> float:
    """This process's CPU time (user and system, all threads), read from /proc."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(clients: int, seconds: float, call: Callable[[], int]) -> dict[str, Any]:
    """`clients` threads calling `call` (which answers a status) for `seconds`; with the CPU time
    this process spent meanwhile, and the share of it spent in the clients' own threads."""
    latencies: list[float] = []
    client_cpu: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client() -> None:
        mine: list[float] = []
        seen: Counter[int] = Counter()
        start.wait()
        cpu = time.thread_time()
        while not stop.is_set():
            began = time.perf_counter()
            status = call()
            mine.append(time.perf_counter() - began)
            seen[status] += 1
        cpu = time.thread_time() - cpu
        with lock:
            latencies.extend(mine)
            statuses.update(seen)
            client_cpu.append(cpu)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    cpu = _process_cpu_seconds()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "latencies": latencies,
        "statuses": statuses,
        "process_cpu_seconds": _process_cpu_seconds() - cpu,
        "client_cpu_seconds": sum(client_cpu),
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = sorted(latency for run in runs for latency in run["latencies"])
    requests = sum(run["requests"] for run in runs)
    statuses: Counter[int] = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": requests,
        "rate_per_second": round(requests / sum(run["seconds"] for run in runs), 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
    }


def measure(endpoint: str, max_instances: int = 0) -> dict[str, Any]:
    """Start the local runtime on DynamoDB Local at `endpoint` (tables already there), and measure."""
    import boto3
    import requests
    from botocore.config import Config

    from local_runtime.run import LocalRuntime

    runtime = LocalRuntime(
        api_port=0,
        data_platform_port=0,
        dynamodb_endpoint=endpoint,
        seed=False,
        log_level="ERROR",
        max_instances=max_instances,
        function_log=lambda _: None,  # the functions' log lines (one metrics record per issue) are not shown
        progress=lambda _: None,
    ).start()
    try:
        url = runtime.url
        local = threading.local()

        def connection() -> _Connection:
            if not hasattr(local, "connection"):
                local.connection = _Connection(runtime.api.host, runtime.api.port)
            return local.connection  # type: ignore[no-any-return]

        from local_runtime import issuer

        admin = {"Authorization": f"Bearer {issuer.issue('bench-admin', admin=True)}"}
        # Each issue is a new user's first request, so its token is new to the authorizer too (as in a
        # flash sale): tokens are signed before the measured rounds, not while the clients wait.
        tokens = queue.SimpleQueue[tuple[str, str]]()
        for _ in range(TOKENS):
            user = f"u-{uuid.uuid4().hex[:16]}"
            tokens.put((user, issuer.issue(user)))

        def next_user() -> tuple[str, str]:
            try:
                return tokens.get_nowait()
            except queue.Empty:
                user = f"u-{uuid.uuid4().hex[:16]}"
                return user, issuer.issue(user)

        created = requests.post(
            f"{url}/coupons",
            headers=admin,
            json={
                "name": "Bench 1,000 off",
                "discount": {"type": "FIXED", "amount": 1000},
                "totalQuantity": CAMPAIGN,
                "validDays": 7,
            },
            timeout=60,
        )
        created.raise_for_status()
        coupon_id = created.json()["couponId"]
        issue = f"/coupons/{coupon_id}/issue"

        def over_http() -> int:
            user, token = next_user()
            return connection().post(issue, json.dumps({"userId": user}).encode(), token)

        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(max_pool_connections=OVERLOAD_CLIENTS, retries={"total_max_attempts": 1}),
        )
        # Warm: until the clients' load starts no more instances (each start is a cold import).
        coupon_issue = runtime.functions["CouponIssueFunction"]
        deadline = time.monotonic() + WARM_UP_LIMIT_SECONDS
        while True:
            started = coupon_issue.cold_starts
            _run(CLIENTS, WARM_UP_SECONDS, over_http)
            if coupon_issue.cold_starts == started or time.monotonic() > deadline:
                break
        sample = client.scan(TableName="IssuedCouponsTable", Limit=1)["Items"][0]

        def raw() -> int:
            user = f"u-{uuid.uuid4().hex[:16]}"
            item = {**sample, "userId": {"S": user}, "issuedCouponId": {"S": uuid.uuid4().hex[:24]}}
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": "CouponsTable",
                                "Key": {"couponId": {"S": coupon_id}},
                                "UpdateExpression": "SET remainingQuantity = remainingQuantity - :one",
                                "ConditionExpression": "attribute_exists(couponId) AND remainingQuantity > :zero",
                                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                        {
                            "Put": {
                                "TableName": "IssuedCouponsTable",
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(issuedCouponId)",
                            }
                        },
                    ],
                    ClientRequestToken=uuid.uuid4().hex,
                )
            except client.exceptions.ClientError as error:
                return 409 if error.response["Error"]["Code"] == "TransactionCanceledException" else 500
            return 201

        _run(CLIENTS, WARM_UP_SECONDS, raw)
        http_runs, raw_runs = [], []
        for _ in range(ROUNDS):
            http_runs.append(_run(CLIENTS, ROUND_SECONDS, over_http))
            raw_runs.append(_run(CLIENTS, ROUND_SECONDS, raw))
        overload = _run(OVERLOAD_CLIENTS, OVERLOAD_SECONDS, over_http)
        instances = {name: function.cold_starts for name, function in runtime.functions.functions.items()}
    finally:
        runtime.stop()

    http, direct = _summary(http_runs), _summary(raw_runs)
    loaded = _summary([overload])
    # The HTTP rounds' clients run in the process that runs `make run`'s runtime: its CPU less theirs.
    runtime_cpu = sum(run["process_cpu_seconds"] - run["client_cpu_seconds"] for run in http_runs)
    http["runtime_cpu_ms_per_request"] = round(runtime_cpu * 1000 / max(http["requests"], 1), 2)
    return {
        "clients": CLIENTS,
        "seconds_each": ROUND_SECONDS,
        "rounds": ROUNDS,
        "http": http,
        "raw": direct,
        "ratio_http_vs_raw": round(http["rate_per_second"] / direct["rate_per_second"], 2),
        "overload": {
            "clients": OVERLOAD_CLIENTS,
            "seconds": OVERLOAD_SECONDS,
            **loaded,
            "server_errors": sum(n for status, n in loaded["statuses"].items() if int(status) >= 500 or status == "0"),
        },
        "instances_started": instances,
    }


def report(result: dict[str, Any], table: Callable[[list[str], list[list[Any]]], str]) -> None:
    http, raw, overload = result["http"], result["raw"], result["overload"]
    print(
        f"\n8. Coupon issue through make run's HTTP API vs the same TransactWriteItems as raw boto3, "
        f"{result['clients']} clients, {result['rounds']} x {result['seconds_each']:g} s each, alternating"
    )
    print(
        table(
            ["path", "req/s", "p50 ms", "p99 ms", "requests", "statuses"],
            [
                [
                    "HTTP (make run)",
                    http["rate_per_second"],
                    http["p50_ms"],
                    http["p99_ms"],
                    http["requests"],
                    _codes(http),
                ],
                ["raw boto3", raw["rate_per_second"], raw["p50_ms"], raw["p99_ms"], raw["requests"], _codes(raw)],
            ],
        )
    )
    print(f"   ratio HTTP / raw: {result['ratio_http_vs_raw']}")
    print(
        f"   CPU of the make run process (gateway, event flow; the clients excluded): "
        f"{http['runtime_cpu_ms_per_request']} ms per HTTP request"
    )
    print(
        f"   {overload['clients']} HTTP clients for {overload['seconds']:g} s: {overload['requests']} requests, "
        f"{overload['rate_per_second']} req/s, p99 {overload['p99_ms']} ms, "
        f"5xx or no answer: {overload['server_errors']}"
    )


def _codes(run: dict[str, Any]) -> str:
    return ", ".join(f"{status}: {count}" for status, count in run["statuses"].items())


def main() -> None:
    """This section alone (`python -m bench.http_vs_raw`), on a DynamoDB Local of its own."""
    import boto3

    from bench.__main__ import table
    from local_runtime import dynamodb_local
    from local_runtime.tables import create_tables

    server = dynamodb_local.start(progress=lambda _: None)
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        create_tables(client)
        report(measure(server.endpoint, int(os.environ.get("MAX_INSTANCES") or 0)), table)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
