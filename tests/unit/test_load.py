"""The load test's pure parts: the shape's stages, which answers are failures, the summary read
from Locust's CSVs, the invariants' checks given the API's answers, the plan file, the choice of
the users' source and of the run's options."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from load import routes, run, shape
from load.invariants import balances_equal_history, coupons_within_quantity, history_sum, no_server_errors
from load.plan import Plan
from load.summary import read
from load.users import DEFAULT_URL, NoStageUsers, target
from remote.users import LocalIssuerUsers, TestUser

# --- the shape ----------------------------------------------------------------------------------


def test_the_flash_sale_spikes_between_40_and_70_percent_of_the_run() -> None:
    stages = shape.stages(shoppers=5, issuers=30, duration=100)

    assert [(s.name, s.ends_at, s.shoppers, s.issuers) for s in stages] == [
        ("steady", 40.0, 5, 0),
        ("flash sale", 70.0, 5, 30),
        ("after the sale", 100.0, 5, 0),
    ]
    assert stages[1].spawn_rate == 30  # the crowd arrives within about a second
    assert stages[2].spawn_rate == 30  # and leaves as fast


@pytest.mark.parametrize(
    ("seconds", "stage"),
    [
        (0, "steady"),
        (7.99, "steady"),
        (8, "flash sale"),
        (13.99, "flash sale"),
        (14, "after the sale"),
        (19.9, "after the sale"),
    ],
)
def test_the_stage_in_force(seconds: float, stage: str) -> None:
    found = shape.stage_at(shape.stages(shoppers=2, issuers=6, duration=20), seconds)
    assert found is not None and found.name == stage


def test_the_run_stops_at_its_duration() -> None:
    assert shape.stage_at(shape.stages(shoppers=2, issuers=6, duration=20), 20) is None


@pytest.mark.parametrize(("shoppers", "issuers", "duration"), [(0, 3, 60), (1, -1, 60), (1, 3, 5)])
def test_a_shape_that_cannot_run_is_refused(shoppers: int, issuers: int, duration: float) -> None:
    with pytest.raises(ValueError):
        shape.stages(shoppers, issuers, duration)


# --- answers and failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "status", "code"),
    [
        (routes.PRODUCTS, 200, None),
        (routes.ORDER, 201, None),
        (routes.ISSUE, 409, "COUPON_SOLD_OUT"),
        (routes.ISSUE, 409, "COUPON_ALREADY_ISSUED"),
        (routes.ORDER, 409, "INSUFFICIENT_BALANCE"),
        (routes.CHARGE, 409, "BALANCE_LIMIT_EXCEEDED"),
    ],
)
def test_successes_and_refusals_the_load_causes_are_answers(route: str, status: int, code: str | None) -> None:
    assert routes.failure(route, status, code) is None


@pytest.mark.parametrize(
    ("route", "status", "code", "failure"),
    [
        (routes.ORDER, 503, "OUTCOME_UNKNOWN", "HTTP 503 OUTCOME_UNKNOWN"),
        (routes.BALANCE, 500, None, "HTTP 500"),
        (routes.ORDER, 409, "COUPON_SOLD_OUT", "HTTP 409 COUPON_SOLD_OUT"),  # not a refusal of this route
        (routes.CHARGE, 403, "FORBIDDEN", "HTTP 403 FORBIDDEN"),
        (routes.PRODUCTS, 429, None, "HTTP 429"),  # the API's throttle
    ],
)
def test_other_answers_are_failures_named_by_status(route: str, status: int, code: str | None, failure: str) -> None:
    assert routes.failure(route, status, code) == failure
    assert routes.status_of_failure(f"CatchResponseError('{failure}')") == status


def test_an_error_without_an_answer_has_no_status() -> None:
    error = "ConnectionError(MaxRetryError(\"HTTPConnectionPool(host='127.0.0.1', port=3000): Max retries\"))"
    assert routes.status_of_failure(error) is None


# --- the summary from Locust's CSVs -------------------------------------------------------------

PERCENTILES = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
STATS_CSV = f"""Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,{PERCENTILES}
POST,/orders,19,3,69,115.4,25.0,487.7,409.0,0.95,0.15,69,100,140,140,450,490,490,495,490,490,490
GET,/products/{{productId}},38,0,25,41.2,6.2,322.2,117.4,1.9,0.0,25,33,37,52,92,190,320,320,320,320,320
GET,/products/popular,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,57,4,44,285.7,4.1,5283.1,448.2,11.3,0.2,44,73,110,130,320,500,4800,5200,5300,5300,5300
"""
FAILURES_CSV = """Method,Name,Error,Occurrences,First Seen,Last Seen
POST,/orders,CatchResponseError('HTTP 503 OUTCOME_UNKNOWN'),2,2026-12-03T18:41:30Z,2026-12-03T18:41:40Z
POST,/orders,CatchResponseError('HTTP 409 INVALID_REQUEST'),1,2026-12-03T18:41:30Z,2026-12-03T18:41:30Z
GET,/users/{userId}/balance,"ConnectionError('HTTPConnectionPool(host=127.0.0.1, port=3000): refused')",1,,
"""
EXCEPTIONS_CSV = """Count,Message,Traceback,Nodes
2,KeyError('issuedCouponId'),"Traceback ...",local
"""


def test_the_summary_has_each_route_its_percentiles_and_the_5xx() -> None:
    summary = read(STATS_CSV, FAILURES_CSV, EXCEPTIONS_CSV)

    assert set(summary.routes) == {"POST /orders", "GET /products/{productId}", "GET /products/popular"}
    orders = summary.routes["POST /orders"]
    assert (orders.requests, orders.failures, orders.rate) == (19, 3, 0.95)
    assert (orders.p50, orders.p95, orders.p99) == (69, 490, 495)
    assert orders.server_errors == 2
    assert summary.routes["GET /products/{productId}"].server_errors == 0
    popular = summary.routes["GET /products/popular"]
    assert (popular.requests, popular.p50, popular.p99) == (0, None, None)
    assert (summary.total.requests, summary.total.failures, summary.total.rate, summary.total.p95) == (57, 4, 11.3, 500)
    assert summary.server_errors == 2  # the connection error has no status
    assert summary.exceptions == 2
    assert [(k.route, k.status, k.occurrences) for k in summary.failures] == [
        ("POST /orders", 503, 2),
        ("POST /orders", 409, 1),
        ("GET /users/{userId}/balance", None, 1),
    ]
    document = summary.to_json()
    assert (document["requests"], document["serverErrors"], document["routes"]["POST /orders"]["p99"]) == (57, 2, 495)
    assert "POST /orders" in summary.render() and "Aggregated" in summary.render()


HISTORY_COLUMNS = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,Total Request Count"
HISTORY_CSV = f"""{HISTORY_COLUMNS}
1000,0,,Aggregated,0.0,0.0,0
1001,10,,Aggregated,0.0,0.0,41
1002,10,,Aggregated,26.0,0.0,61
1002,10,GET,/products,5.0,0.0,12
1003,40,,Aggregated,18.0,0.0,175
1005,40,,Aggregated,30.0,0.0,375
1006,10,,Aggregated,98.0,0.0,400
"""


def test_the_busiest_second_comes_from_the_counts_not_locusts_moving_average() -> None:
    summary = read(STATS_CSV, "", "", HISTORY_CSV)
    assert summary.peak is not None
    assert (summary.peak.rate, summary.peak.users) == (114, 40)  # 61 -> 175 in a second; 200 in two is 100/s
    assert (summary.to_json()["peakRate"], summary.to_json()["peakUsers"]) == (114, 40)
    assert read(STATS_CSV, "").peak is None


def test_a_run_that_never_started_has_no_summary() -> None:
    with pytest.raises(ValueError, match="Aggregated"):
        read(STATS_CSV.splitlines()[0] + "\n", "")


# --- the invariants, given the API's answers ----------------------------------------------------


def campaign(coupon_id: str, total: int, remaining: int) -> dict[str, object]:
    return {"couponId": coupon_id, "totalQuantity": total, "remainingQuantity": remaining}


def test_coupons_hold_when_the_issued_ones_are_the_held_ones_within_quantity() -> None:
    check = coupons_within_quantity([campaign("flash", 6, 0), campaign("order", 4, 3)], {"flash": 6, "order": 1})
    assert check.holds, check.detail
    assert "flash 6/6" in check.detail


@pytest.mark.parametrize(
    ("campaigns", "holders"),
    [
        ([campaign("flash", 6, -1)], {"flash": 7}),  # issued above quantity
        ([campaign("flash", 6, 0)], {"flash": 7}),  # more held than the campaign counts
        ([campaign("flash", 6, 2)], {"flash": 3}),  # a counted coupon that nobody holds
        ([campaign("flash", 6, 7)], {}),  # more left than the quantity
    ],
)
def test_coupons_fail_when_counts_disagree(campaigns: list[dict[str, object]], holders: dict[str, int]) -> None:
    check = coupons_within_quantity(campaigns, holders)
    assert not check.holds
    assert "flash" in check.detail


def charge(amount: int) -> dict[str, object]:
    return {"type": "CHARGE", "amount": amount}


def payment(amount: int) -> dict[str, object]:
    return {"type": "PAYMENT", "amount": amount, "orderId": "o-1"}


def test_a_balance_equals_its_history_when_charges_minus_payments_make_it() -> None:
    assert history_sum([charge(300_000), payment(12_000), charge(50_000)]) == 338_000
    check = balances_equal_history(
        {"u-1": (338_000, [charge(300_000), payment(12_000), charge(50_000)]), "u-2": (0, [])}
    )
    assert check.holds, check.detail
    assert check.detail == "2 users, 3 history entries"


def test_a_balance_off_its_history_fails_and_names_the_user() -> None:
    check = balances_equal_history(
        {"u-1": (300_000, [charge(300_000)]), "u-2": (290_000, [charge(300_000), payment(9_000)])}
    )
    assert not check.holds
    assert check.detail == "u-2: balance 290000, history 291000"


def test_any_5xx_fails_the_run() -> None:
    assert no_server_errors(read(STATS_CSV, "Method,Name,Error,Occurrences,First Seen,Last Seen\n")).holds
    check = no_server_errors(read(STATS_CSV, FAILURES_CSV))
    assert not check.holds
    assert check.detail == "2 5xx: {'POST /orders': 2}"


# --- the plan, the users' source, the options ---------------------------------------------------


def test_the_plan_goes_to_the_locust_process_readable_by_its_owner_only(tmp_path: Path) -> None:
    plan = Plan(
        run_id="load-1",
        shoppers=[TestUser("load-1-s1", "token-s1")],
        issuers=[TestUser("load-1-i1", "token-i1"), TestUser("load-1-i2", "token-i2")],
        product_ids=["p-1", "p-2"],
        order_campaign_ids=["c-1"],
        flash_campaign_id="c-flash",
        duration=20,
    )
    path = tmp_path / "plan.json"
    plan.write(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Plan.read(path) == plan
    assert Plan.read(path).users[2].token == "token-i2"
    assert plan.campaign_ids == ["c-1", "c-flash"]


def test_without_a_stage_the_users_are_the_local_issuers_on_a_make_run_by_default() -> None:
    loaded = target(None, None, "run-1")
    assert isinstance(loaded.users, LocalIssuerUsers)
    assert loaded.url == DEFAULT_URL
    assert target("http://127.0.0.1:3999", None, "run-1").url == "http://127.0.0.1:3999"


@pytest.mark.parametrize(
    "url", ["https://abc123.execute-api.ap-northeast-2.amazonaws.com", "http://10.0.0.5:3000", "http://shop.example"]
)
def test_a_url_off_this_machine_without_its_stage_is_refused_clearly(url: str) -> None:
    with pytest.raises(NoStageUsers, match="add STAGE="):
        target(url, None, "run-1")


@pytest.mark.parametrize("url", ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000"])
def test_a_url_on_this_machine_takes_the_local_issuers_tokens(url: str) -> None:
    assert isinstance(target(url, None, "run-1").users, LocalIssuerUsers)


def test_a_stage_that_cannot_be_read_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from remote import stage

    def unreadable(name: str) -> stage.Stage:
        raise stage.StageError("stack shop-core-dev not found in ap-northeast-2: deploy it first")

    monkeypatch.setattr(stage, "load", unreadable)
    with pytest.raises(NoStageUsers, match="STAGE=dev: stack shop-core-dev not found"):
        target(None, "dev", "run-1")


def test_a_stage_gives_its_api_url_and_its_pools_users_unless_a_url_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from remote import stage
    from remote.cognito import CognitoUsers

    deployed = stage.Stage(stage.StageConfig("dev", "shop-core-dev", "ap-northeast-2"), "https://dev.example", "p", "c")
    monkeypatch.setattr(stage, "load", lambda name: deployed)
    made: list[tuple[stage.Stage, str | None]] = []
    monkeypatch.setattr(CognitoUsers, "of_stage", classmethod(lambda cls, s, run_id=None: made.append((s, run_id))))
    assert target(None, "dev", "run-1").url == "https://dev.example"
    assert target("https://other.example", "dev", "run-2").url == "https://other.example"
    assert made == [(deployed, "run-1"), (deployed, "run-2")]


def test_the_options_default_to_a_make_run_with_three_issuers_per_shopper() -> None:
    args = run.parse_args([])
    assert (args.url, args.users, args.issuers, args.duration, args.stage) == (None, 10, 30, 60, None)
    assert run.parse_args(["--users", "2", "--issuers", "0", "--duration", "10"]).issuers == 0


@pytest.mark.parametrize(
    "argv",
    [["--duration", "5"], ["--users", "0"]],
    ids=["too short", "no shopper"],
)
def test_options_that_cannot_make_a_run_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run.parse_args(argv)
    assert exited.value.code == 2


def test_the_run_itself_never_imports_locust() -> None:
    """Importing Locust patches the whole process for gevent: only the Locust process may."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, load.run; print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"
