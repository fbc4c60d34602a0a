"""`python -m bench` (`make bench`): DynamoDB cost per use case, and ratios that do not drift.

Starts DynamoDB Local in memory on a free port, creates the template's tables, points the layer at
it (`DYNAMODB_ENDPOINT_URL`), calls the services in-process, prints tables and writes
`bench/results/<time>.json` (and `latest.json`).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

ENVIRONMENT = {
    # never a real account: DynamoDB Local accepts any credentials
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "POWERTOOLS_SERVICE_NAME": "shop",
    "POWERTOOLS_METRICS_NAMESPACE": "Shop",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    lines = [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(text.rstrip() for text in lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if value == int(value) else f"{value:.2f}"
    return "-" if value is None else str(value)


def quiet_metrics() -> None:
    """Powertools prints a metric set to stdout once a metric has 100 values; outside Lambda no
    handler flushes them, so drop them before that (the service code still calls add_metric)."""
    from shop.observability import metrics

    original = metrics.add_metric
    lock = threading.Lock()

    def add_metric(*args: Any, **kwargs: Any) -> None:
        with lock:
            original(*args, **kwargs)
            if any(len(m["Value"]) >= 50 for m in metrics.provider.metric_set.values()):
                metrics.clear_metrics()

    metrics.add_metric = add_metric  # type: ignore[method-assign]


def line_counts() -> dict[str, int]:
    """Lines of Python in the local runtime, and in the product it runs (the functions and the layer)."""
    root = Path(__file__).resolve().parent.parent

    def lines(*folders: str) -> int:
        return sum(len(path.read_text().splitlines()) for folder in folders for path in (root / folder).rglob("*.py"))

    return {"local_runtime": lines("local_runtime"), "functions_and_layers": lines("functions", "layers")}


def calibrate(probe: Any) -> list[str]:
    """The emulator sizes single-item writes itself: at 1,024 / 1,025 bytes it must agree with the rule."""
    from bench import itemsize

    checked = []
    for name, item, units in itemsize.calibration_items():
        answer = probe.put_item(TableName="ProductsTable", Item=item, ReturnConsumedCapacity="TOTAL")
        reported = answer["ConsumedCapacity"]["CapacityUnits"]
        assert reported == units, (
            f"item-size rule disagrees with DynamoDB Local: {name}: it charged {reported} WCU, the rule says {units}"
        )
        probe.delete_item(TableName="ProductsTable", Key={"productId": item["productId"]})
        checked.append(name)
    return checked


def main() -> int:
    os.environ.update(ENVIRONMENT)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)

    import logging

    from bench import flashsale, itemsize, scenarios
    from bench.store import bench_store
    from local_runtime import dynamodb_local

    logging.getLogger("urllib3").setLevel(logging.ERROR)  # 200 threads overflow the pool of 50: fine
    began = time.monotonic()
    if "--flash-sale" in sys.argv[1:]:
        return flash_sale_only(began)
    documented = itemsize.self_check()
    print(f"item-size rule: {len(documented)} documented sizes and units check out")
    lines = line_counts()
    runtime_lines, product_lines = lines["local_runtime"], lines["functions_and_layers"]
    print(f"lines of Python: local_runtime/ {runtime_lines:,}, functions/ + layers/ {product_lines:,}")

    quiet_metrics()
    with bench_store() as store:
        probe, meter, truncate = store.probe, store.meter, store.truncate
        calibrated = calibrate(probe)
        print(f"item-size rule agrees with DynamoDB Local at the 1 KB boundary for {len(calibrated) // 2} shapes")

        print("measuring: cost per use case ...", file=sys.stderr)
        costs = scenarios.costs(meter)
        print("measuring: popular read after 10 and 1,000 counted orders ...", file=sys.stderr)
        popular = scenarios.popular_growth(meter, truncate)
        print("measuring: hot coupon, 200 requests for 50 coupons, burst and 16 workers ...", file=sys.stderr)
        hot = [scenarios.hot_coupon(meter, truncate, workers=w) for w in (None, 16)]
        print("measuring: throughput ratio, 2 x 2 s with 8 threads ...", file=sys.stderr)
        speed = scenarios.throughput(meter, truncate)
        print("measuring: the POSTs with and without an Idempotency-Key ...", file=sys.stderr)
        truncate()
        posts = scenarios.posts(meter)
        print("measuring: the daily reconciliation's RCU per user, 200 and 2,000 users ...", file=sys.stderr)
        from bench import reconciliation

        reconciled = reconciliation.measure(meter, probe, truncate)
        truncate()
        print("simulating: a flash sale against DynamoDB's partition limits, in virtual time ...", file=sys.stderr)
        flash = flashsale.sweep()
        print("measuring: coupon issue through make run's HTTP API vs raw TransactWriteItems ...", file=sys.stderr)
        from bench import http_vs_raw

        http_raw = http_vs_raw.measure(store.endpoint)

    from bench import authorizer

    print("measuring: the authorizer's cold start (7 fresh interpreters each) and warm cost ...", file=sys.stderr)
    authorizer_costs = {"cold_start": authorizer.cold_start(), "warm": authorizer.warm()}
    from bench import coldstart

    print("measuring: each function's cold start, tracing on and off (7 fresh interpreters each) ...", file=sys.stderr)
    cold_starts = coldstart.measure()

    results = {
        "run": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "dynamodb_local": (dynamodb_local.jar_dir() or Path("?")).name,
            "seconds": round(time.monotonic() - began, 1),
        },
        "self_check": {"documented": documented, "emulator_calibration": calibrated},
        "lines": lines,
        "costs": costs,
        "popular": popular,
        "hot_coupon": hot,
        "throughput": speed,
        "authorizer": authorizer_costs,
        "cold_start": cold_starts,
        "flash_sale": flash,
        "posts": posts,
        "http_vs_raw": http_raw,
        "reconciliation": reconciled,
    }
    report(results)
    report_flash_sale(flash)
    from bench import http_vs_raw

    http_vs_raw.report(results["http_vs_raw"], table)
    reconciliation.report(results["reconciliation"], table)
    if not coldstart.report(results["cold_start"], table):
        print(f"FAILED: a route function's import is over {coldstart.LIMIT}x boto3 with a client", file=sys.stderr)
        return 1
    if not flash["all_exactly_n"]:
        print("FAILED: a simulated run issued other than exactly N", file=sys.stderr)
        return 1
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, indent=2, default=str)
    (RESULTS / f"bench-{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(f"\nwritten: bench/results/bench-{stamp}.json (and latest.json), in {results['run']['seconds']} s")
    return 0


def report(results: dict[str, Any]) -> None:
    print("\n1. Cost per use case (RCU: DynamoDB Local's consumed capacity; transactions: computed WCU)")
    print(
        table(
            ["use case", "RCU", "WCU", "tx WCU", "total WCU", "calls"],
            [
                [r["use_case"], r["rcu"], r["wcu_single"], r["wcu_transaction"], r["wcu_total"], r["calls"]]
                for r in results["costs"]
            ],
        )
    )

    popular = results["popular"]
    print("\n2. Popular products: the read does not grow with orders")
    print(
        table(
            ["measure", "value"],
            [
                ["RCU of popular() after 10 counted orders", popular["rcu_after_10_orders"]],
                ["RCU of popular() after 1,000 counted orders", popular["rcu_after_1000_orders"]],
                ["ratio 1,000 / 10 (expected 1.0)", popular["ratio_1000_vs_10"]],
                ["cost of counting one order, ratio at 1,000 / at 10", popular["counting_cost_ratio_1000_vs_10"]],
            ],
        )
    )
    print("   fallback (no ranking kept today): reads the window's daily counts")
    print(
        table(
            ["distinct products sold", "RCU", "calls"],
            [[f["distinct_products_sold"], f["rcu"], f["calls"]] for f in popular["fallback"]],
        )
    )

    burst, steady = results["hot_coupon"]
    print(f"\n3. Hot coupon: {burst['requests']} requests for {burst['coupons']} coupons of one campaign")
    print("   burst = one thread per request, released together; workers = the same requests through 16 threads")

    def outcomes(run: dict[str, Any]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(run["outcomes"].items()))

    rows = [
        ("outcomes", outcomes),
        ("remaining after / oversold", lambda r: f"{r['remaining_after']} / {r['oversold']}"),
        ("transactions sent per coupon issued", lambda r: r["transactions_per_coupon_issued"]),
        ("write HTTP requests per coupon issued", lambda r: r["write_requests_per_coupon_issued"]),
        ("sold out, answered with no write", lambda r: r["sold_out_answered_without_write"]),
        ("share of sold-out answered with no write", lambda r: r["share_of_sold_out_without_write"]),
        ("TransactionConflict cancellations", lambda r: r["transaction_conflicts"]),
        ("transactions retried by the layer", lambda r: r["retries_by_layer"]),
        ("transactions per request (histogram)", lambda r: r["transactions_per_request_histogram"]),
    ]
    print(table(["measure", "burst", "16 workers"], [[name, get(burst), get(steady)] for name, get in rows]))

    speed = results["throughput"]
    print(f"\n4. Throughput, {speed['threads']} threads, {speed['seconds_each']:g} s each, in-process")
    absolute = speed["noisy_absolute_rps"]
    print(
        table(
            ["measure", "value"],
            [
                ["order placement / balance inquiry, requests/s ratio", round(speed["ratio_order_vs_balance"], 2)],
                ["DynamoDB calls per order", speed["dynamodb_calls_per_order"]],
                [
                    "absolute req/s (noisy, for orientation only)",
                    f"order {absolute['order_placement']}, balance {absolute['balance_inquiry']}",
                ],
            ],
        )
    )
    report_authorizer(results["authorizer"])
    report_posts(results["posts"])


def report_posts(posts: dict[str, Any]) -> None:
    print("\n6. The POSTs through their handlers, with and without an Idempotency-Key")
    print(
        table(
            ["request", "RCU", "WCU", "tx WCU", "total WCU", "calls"],
            [
                [r["use_case"], r["rcu"], r["wcu_single"], r["wcu_transaction"], r["wcu_total"], r["calls"]]
                for r in posts["rows"]
            ],
        )
    )
    ledger = posts["ledger"]
    print("   the ledger's share of the writes")
    print(
        table(
            ["measure", "value"],
            [
                ["CHARGE entry: bytes, tx WCU", f"{ledger['charge_entry_bytes']}, {ledger['charge_entry_tx_wcu']}"],
                ["PAYMENT entry: bytes, tx WCU", f"{ledger['payment_entry_bytes']}, {ledger['payment_entry_tx_wcu']}"],
                ["LedgerTable index byTime, WCU per entry (not metered)", ledger["ledger_index_wcu_per_entry"]],
                ["OrdersTable index byUser, WCU per order (not metered)", ledger["orders_index_wcu_per_order"]],
            ],
        )
    )


def report_authorizer(costs: dict[str, Any]) -> None:
    cold, warm = costs["cold_start"], costs["warm"]
    print("\n5. The authorizer: cold start (median import time of its module) and warm cost per request")
    print(
        table(
            ["measure", "value"],
            [
                ["import time, authorizer / boto3 alone", round(cold["authorizer_vs_boto3"], 2)],
                ["import time, authorizer / a route function", round(cold["authorizer_vs_route_function"], 2)],
                ["token verified (miss) / token remembered (hit), time ratio", round(warm["miss_vs_hit"], 1)],
                ["garbage refused / token verified, time ratio", round(warm["garbage_refusal_vs_miss"], 3)],
                [
                    "absolute (noisy, for orientation only)",
                    f"import {cold['noisy_absolute_ms']['authorizer']} ms; miss {warm['noisy_absolute_us']['miss']} us,"
                    f" hit {warm['noisy_absolute_us']['hit']} us",
                ],
            ],
        )
    )


def flash_sale_only(began: float) -> int:
    """`python -m bench --flash-sale`: only the simulation (seconds, no DynamoDB Local)."""
    from bench import flashsale

    flash = flashsale.sweep()
    report_flash_sale(flash)
    print(f"\nin {time.monotonic() - began:.1f} s")
    return 0 if flash["all_exactly_n"] else 1


def report_flash_sale(flash: dict[str, Any]) -> None:
    limits = flash["limits"]
    print(
        f"\n7. Flash sale, simulated in virtual time: a {flash['campaign']:,}-coupon campaign, "
        f"default {flash['default_shards']} shards (max {flash['max_shards']}), "
        f"{limits['partition_wcu']:g} WCU/s per partition, transaction hold {limits['transaction_hold'] * 1000:g} ms"
    )
    print(
        table(
            [
                "shards",
                "offered/s",
                "issues/s",
                "answered",
                "conflicts",
                "retries",
                "throttled",
                "WCU/issued (today 4)",
                "RCU/request",
                "exactly N",
            ],
            [
                [
                    r["shards"],
                    r["offered_rps"],
                    round(r["issues_per_s"]),
                    f"{r['answered_share']:.1%}",
                    r["conflicts"],
                    r["retries"],
                    r["throttled"],
                    r["wcu_per_issued"],
                    r["rcu_per_request"],
                    "yes" if r["exactly_n"] and r["one_per_user"] else "NO",
                ]
                for r in flash["runs"]
            ],
        )
    )
    sale = flash["sell_out"]
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(sale["outcomes"].items()))
    print(
        f"   sell-out: {sale['issued']:,} of {sale['issued'] + sale['remaining']:,} coupons in {sale['shards']} shards "
        f"at {sale['offered_rps']:,.0f} requests/s; exactly N: {'yes' if sale['exactly_n'] else 'NO'}; {outcomes}"
    )
    hold = ", ".join(f"{h['transaction_hold_ms']} ms: {h['issues_per_s']:,.0f}/s" for h in flash["hold_sensitivity"])
    print(f"   default shards at {LOAD_TOP:,} requests/s with another transaction hold: {hold}")


LOAD_TOP = 20_000


if __name__ == "__main__":
    sys.exit(main())
