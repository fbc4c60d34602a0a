"""Hostile and careless input on every route: a 4xx with the contract's code, an error body of
exactly `{"code", "message"}`, and nothing changed in the database."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime.seed import seed
from local_runtime.tables import create_tables
from shop.api.body import MAX_BODY_BYTES, MAX_DEPTH
from shop.errors import Refusal
from shop.models.errors import MAX_MESSAGE
from shop.repositories import dynamodb
from shop.services.balance import BalanceService
from shop.services.catalogue import CatalogueService
from shop.services.coupons import CouponService
from shop.services.orders import OrderService
from shop.services.popular import PopularProductsService
from tests.support.lambda_events import LambdaContext, http_event
from tests.unit.conftest import Api


@dataclass(frozen=True)
class Route:
    function: str
    method: str
    template_path: str
    path: str
    body: dict[str, Any] | None = None
    service: tuple[type, str] = (object, "")
    ids: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.method} {self.template_path}"

    def with_id(self, name: str, value: str) -> str:
        """The route's valid path with one id replaced by `value` (already URL-encoded)."""
        path = self.template_path
        for other in self.ids:
            path = path.replace(f"{{{other}}}", value if other == name else VALID_IDS[other])
        return path


VALID_IDS = {"userId": "user-1", "productId": "p-mouse", "couponId": "c-welcome"}

ROUTES = [
    Route(
        "BalanceInquiryFunction",
        "GET",
        "/users/{userId}/balance",
        "/users/user-1/balance",
        service=(BalanceService, "balance"),
        ids=("userId",),
    ),
    Route(
        "BalanceChargeFunction",
        "POST",
        "/users/{userId}/balance/charge",
        "/users/user-1/balance/charge",
        {"amount": 5_000},
        (BalanceService, "charge"),
        ("userId",),
    ),
    Route("ProductInquiryFunction", "GET", "/products", "/products", service=(CatalogueService, "page")),
    Route(
        "ProductInquiryFunction",
        "GET",
        "/products/{productId}",
        "/products/p-mouse",
        service=(CatalogueService, "product"),
        ids=("productId",),
    ),
    Route(
        "PopularProductsFunction",
        "GET",
        "/products/popular",
        "/products/popular",
        service=(PopularProductsService, "popular"),
    ),
    Route(
        "OrderPlacementFunction",
        "POST",
        "/orders",
        "/orders",
        {"userId": "user-1", "items": [{"productId": "p-mouse", "quantity": 1}]},
        (OrderService, "place"),
    ),
    Route(
        "UserCouponsFunction",
        "GET",
        "/users/{userId}/coupons",
        "/users/user-1/coupons",
        service=(CouponService, "issued_to"),
        ids=("userId",),
    ),
    Route(
        "CouponIssueFunction",
        "POST",
        "/coupons/{couponId}/issue",
        "/coupons/c-welcome/issue",
        {"userId": "user-3"},
        (CouponService, "issue"),
        ("couponId",),
    ),
    Route(
        "CatalogueAdminFunction",
        "POST",
        "/products",
        "/products",
        {"name": "Desk lamp", "price": 25_000, "stock": 5},
        (CatalogueService, "create"),
    ),
    Route(
        "CatalogueAdminFunction",
        "POST",
        "/products/{productId}/stock",
        "/products/p-mouse/stock",
        {"quantity": 10},
        (CatalogueService, "restock"),
        ("productId",),
    ),
    Route(
        "CatalogueAdminFunction",
        "POST",
        "/coupons",
        "/coupons",
        {"name": "Spring", "discount": {"type": "FIXED", "amount": 1_000}, "totalQuantity": 10, "validDays": 7},
        (CouponService, "create"),
    ),
    Route(
        "CatalogueAdminFunction",
        "GET",
        "/coupons/{couponId}",
        "/coupons/c-welcome",
        service=(CouponService, "campaign"),
        ids=("couponId",),
    ),
]
BODY_ROUTES = [r for r in ROUTES if r.body is not None]
ID_ROUTES = [r for r in ROUTES if r.ids]
FUNCTIONS = sorted({r.function for r in ROUTES})


def route(method: str, template_path: str) -> Route:
    (found,) = [r for r in ROUTES if (r.method, r.template_path) == (method, template_path)]
    return found


# ---------------------------------------------------------------- one database for the module
#
# A refused request changes nothing, and every refusal checks that; so the ~400 cases share one
# moto database with the seed data (conftest's per-test `aws`, `api` and `seeded` are overridden
# here, for speed). The few tests that do change it leave it usable by the others.


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    with mock_aws():
        dynamodb.reset_clients()
        client = boto3.client("dynamodb")
        create_tables(client)
        seed()
        yield client
    dynamodb.reset_clients()


@pytest.fixture(scope="module")
def api(aws: Any) -> Api:
    return Api()


@pytest.fixture(scope="module")
def seeded(aws: Any) -> None:
    """The module's database is seeded once, when it is created."""


@pytest.fixture
def serve(api: Api) -> Iterator[Callable[[str, Any], None]]:
    """`serve(fn, service)`: the function's routes use `service`, for one test (the module's Api
    outlives it)."""
    yield api.serve
    api.close()


# ---------------------------------------------------------------- calling and checking


# Who calls each function here, unless a test says otherwise: the owner of the valid requests' ids
# (an admin for catalogue administration), so that what refuses a case is the case itself.
CALLERS: dict[str, dict[str, Any]] = {
    "BalanceInquiryFunction": {"caller": "user-1"},
    "BalanceChargeFunction": {"caller": "user-1"},
    "OrderPlacementFunction": {"caller": "user-1"},
    "UserCouponsFunction": {"caller": "user-1"},
    "CouponIssueFunction": {"caller": "user-3"},
    "CatalogueAdminFunction": {"caller": "admin", "admin": True},
}


def call(
    api: Api, fn: str, method: str, path: str, body: Any = None, *, event: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[int, dict[str, str], str]:
    """Call a route function as API Gateway does (with `event` when given; otherwise made by the
    function's usual caller unless `caller=` says otherwise); the raw status, headers and body."""
    kwargs = {**CALLERS.get(fn, {}), **kwargs}
    if event is not None and "caller" in kwargs:
        made_by = {"sub": kwargs["caller"], "admin": kwargs.get("admin", False)}
        event["requestContext"].setdefault("authorizer", {"lambda": made_by})
    response = api.handler(fn)(event or http_event(method, path, body, **kwargs), LambdaContext())
    return response["statusCode"], response.get("headers", {}), response.get("body", "")


def snapshot(aws: Any) -> dict[str, list[str]]:
    """Every item of every table, comparable."""
    tables = {}
    for name in aws.list_tables()["TableNames"]:
        items = aws.scan(TableName=name, ConsistentRead=True)["Items"]
        tables[name] = sorted(json.dumps(item, sort_keys=True) for item in items)
    return tables


def assert_error(status: int, headers: dict[str, str], raw: str, expected_status: int, code: str) -> dict[str, Any]:
    assert status == expected_status, raw
    assert headers.get("Content-Type") == "application/json"
    body = json.loads(raw)
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"].strip()
    assert len(body["message"]) <= MAX_MESSAGE, "an error message is short"
    assert "Traceback" not in raw
    return body


@pytest.fixture(scope="module")
def known_tables() -> dict[str, Any]:
    """The tables as the last refusal left them (scanning them is the slow part of a check)."""
    return {}


@pytest.fixture(autouse=True)
def _forget_the_tables_after_other_tests(
    request: pytest.FixtureRequest, known_tables: dict[str, Any]
) -> Iterator[None]:
    yield
    if "refused" not in request.fixturenames:
        known_tables.clear()  # a test that is not a refusal may have changed them


@pytest.fixture
def refused(api: Api, aws: Any, seeded: None, known_tables: dict[str, Any]) -> Any:
    """`refused(fn, method, path, body, status=400, code=..., names=..., **kwargs)`: call, check the
    error answer, check that no table changed, return the error body."""

    def check(
        fn: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int = 400,
        code: str = "INVALID_REQUEST",
        names: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        before = known_tables.get("tables") or snapshot(aws)
        known_tables.clear()
        error = assert_error(*call(api, fn, method, path, body, **kwargs), status, code)
        if names is not None:
            assert names in error["message"], f"the message does not name {names!r}: {error['message']}"
        after = snapshot(aws)
        assert after == before, "a refused request changed the database"
        known_tables["tables"] = after
        return error

    return check


def with_body(route: Route, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(route.body)
    assert body is not None
    body.update(changes)
    return body


def without(route: Route, name: str) -> dict[str, Any]:
    body = copy.deepcopy(route.body)
    assert body is not None
    del body[name]
    return body


# ---------------------------------------------------------------- the baseline


@pytest.mark.parametrize("r", ROUTES, ids=str)
def test_the_valid_request_of_each_route_succeeds(r: Route, api: Api, seeded: None) -> None:
    """The cases below differ from these by one thing: that thing is what gets them refused."""
    status, headers, raw = call(api, r.function, r.method, r.path, r.body)
    assert status in (200, 201), raw
    assert headers.get("Content-Type") == "application/json"


# ---------------------------------------------------------------- bodies that are not an object

NOT_AN_OBJECT = ["{not json", '{"amount": 1', "[]", "[1]", "[[]]", "null", '"text"', "42", "true", ""]


@pytest.mark.parametrize("raw_body", NOT_AN_OBJECT)
@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_body_that_is_not_a_json_object_is_refused(r: Route, raw_body: str, refused: Any) -> None:
    refused(r.function, r.method, r.path, raw_body=raw_body, names="body")


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_json_array_holding_a_valid_body_is_refused(r: Route, refused: Any) -> None:
    refused(r.function, r.method, r.path, raw_body=json.dumps([r.body, r.body]), names="body")


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_post_without_a_body_is_refused(r: Route, refused: Any) -> None:
    refused(r.function, r.method, r.path, names="body")


@pytest.mark.filterwarnings("ignore:Received multipart/form-data:UserWarning")
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_json_body_sent_as_another_content_type_is_refused(r: Route, content_type: str, refused: Any) -> None:
    refused(r.function, r.method, r.path, r.body, headers={"Content-Type": content_type})


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_form_encoded_body_is_refused(r: Route, refused: Any) -> None:
    assert r.body is not None
    form = "&".join(f"{k}={v}" for k, v in r.body.items() if not isinstance(v, (dict, list)))
    refused(r.function, r.method, r.path, raw_body=form, headers={"Content-Type": "application/x-www-form-urlencoded"})


@pytest.mark.filterwarnings("ignore:Received multipart/form-data:UserWarning")
def test_a_well_formed_multipart_body_is_refused(refused: Any) -> None:
    r = route("POST", "/coupons/{couponId}/issue")
    form = '--XyZ\r\nContent-Disposition: form-data; name="userId"\r\n\r\nuser-9\r\n--XyZ--\r\n'
    refused(r.function, r.method, r.path, raw_body=form, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})


# ---------------------------------------------------------------- hostile bodies: size, depth, text


def padded(r: Route, size: int) -> str:
    """The route's valid body, padded with whitespace to exactly `size` bytes."""
    text = json.dumps(r.body)
    assert len(text) < size
    return text[:-1] + " " * (size - len(text)) + "}"


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_body_over_the_size_limit_is_refused_even_if_valid(r: Route, refused: Any) -> None:
    error = refused(r.function, r.method, r.path, raw_body=padded(r, MAX_BODY_BYTES + 1), names="body")
    assert f"{MAX_BODY_BYTES:,}" in error["message"]
    refused(r.function, r.method, r.path, raw_body=padded(r, 10 * 1024 * 1024), names="body")


def test_a_body_at_the_size_limit_is_read(api: Api, seeded: None) -> None:
    r = route("POST", "/users/{userId}/balance/charge")
    status, _, raw = call(api, r.function, r.method, r.path, raw_body=padded(r, MAX_BODY_BYTES))
    assert status == 200, raw


def test_the_size_limit_counts_bytes_not_characters(refused: Any) -> None:
    r = route("POST", "/products")
    name = "가" * (MAX_BODY_BYTES // 3)  # 3 bytes each in UTF-8: over the limit, in fewer characters
    refused(r.function, r.method, r.path, with_body(r, name=name), names="body")


DEEP = {
    "100,000 arrays": "[" * 100_000 + "]" * 100_000,
    "20,000 arrays": "[" * 20_000 + "]" * 20_000,  # within the size limit, past Python's recursion limit
    "5,000 objects": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "one level too deep": '{"a":' * MAX_DEPTH + "[1]" + "}" * MAX_DEPTH,
}


@pytest.mark.parametrize("raw", DEEP.values(), ids=DEEP.keys())
@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_deeply_nested_body_is_refused(r: Route, raw: str, refused: Any) -> None:
    refused(r.function, r.method, r.path, raw_body=raw, names="body")


def test_a_deep_value_inside_a_valid_body_is_refused() -> None:
    """The depth is checked on the whole body, not only where the models look."""
    from shop.api.body import json_object

    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        json_object('{"amount": 5, "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")
    assert json_object('{"amount": 5, "x": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}")["amount"] == 5


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_thousands_of_unknown_fields_get_a_short_message_that_counts_them(r: Route, refused: Any) -> None:
    extra = {f"f{n:04}": 0 for n in range(5_000)}
    body = json.dumps({**(r.body or {}), **extra})
    assert len(body) < MAX_BODY_BYTES
    error = refused(r.function, r.method, r.path, raw_body=body, names="f0000")
    assert "more" in error["message"]
    assert "f4999" not in error["message"]
    twenty_thousand = json.dumps({f"f{n}": 0 for n in range(20_000)})
    refused(r.function, r.method, r.path, raw_body=twenty_thousand, names="body")


HUGE_STRING_FIELDS = [
    (route("POST", "/orders"), "userId", lambda r, v: with_body(r, userId=v)),
    (route("POST", "/coupons/{couponId}/issue"), "userId", lambda r, v: with_body(r, userId=v)),
    (route("POST", "/products"), "name", lambda r, v: with_body(r, name=v)),
    (route("POST", "/coupons"), "name", lambda r, v: with_body(r, name=v)),
]


@pytest.mark.parametrize(
    ("r", "name", "build"), HUGE_STRING_FIELDS, ids=[f"{r} {name}" for r, name, _ in HUGE_STRING_FIELDS]
)
def test_a_huge_string_is_refused_and_not_echoed(r: Route, name: str, build: Any, refused: Any) -> None:
    huge = "x" * 60_000
    error = refused(r.function, r.method, r.path, build(r, huge), names=name)
    assert "x" * 200 not in error["message"]


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_huge_unknown_field_name_is_cut_short_in_the_message(r: Route, refused: Any) -> None:
    error = refused(r.function, r.method, r.path, with_body(r, **{"k" * 50_000: 1}), names="kkkk")
    assert "k" * 200 not in error["message"]


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_a_field_given_twice_is_refused_and_named(r: Route, refused: Any) -> None:
    assert r.body is not None
    name, value = next(iter(r.body.items()))
    raw = json.dumps(r.body)[:-1] + f", {json.dumps(name)}: {json.dumps(value)}}}"
    refused(r.function, r.method, r.path, raw_body=raw, names=name)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\ud83d"])
def test_an_unpaired_surrogate_is_refused(escape: str, refused: Any) -> None:
    r = route("POST", "/products")
    raw = json.dumps(with_body(r, name="PLACEHOLDER")).replace("PLACEHOLDER", escape)
    refused(r.function, r.method, r.path, raw_body=raw, names="body")


def test_a_paired_surrogate_escape_is_text(api: Api, seeded: None) -> None:
    r = route("POST", "/products")
    raw = json.dumps(with_body(r, name="PLACEHOLDER")).replace("PLACEHOLDER", "lamp \\ud83d\\udca1")
    status, _, answer = call(api, r.function, r.method, r.path, raw_body=raw)
    assert status == 201, answer
    assert json.loads(answer)["name"] == "lamp \U0001f4a1"


def base64_event(r: Route, data: bytes) -> dict[str, Any]:
    event = http_event(r.method, r.path, headers={"Content-Type": "application/json"})
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    return event


@pytest.mark.parametrize(
    "data", [b"\xff\xfe{}", b'{"amount": "\xe7"}', b"\x80"], ids=["bom-like", "latin-1 in a string", "lone byte"]
)
def test_a_base64_body_that_is_not_utf8_is_refused(data: bytes, refused: Any) -> None:
    r = route("POST", "/users/{userId}/balance/charge")
    refused(r.function, r.method, r.path, event=base64_event(r, data), names="UTF-8")


def test_a_base64_body_that_is_not_base64_is_refused(refused: Any) -> None:
    r = route("POST", "/users/{userId}/balance/charge")
    event = base64_event(r, b"{}")
    event["body"] = "not base64!"
    refused(r.function, r.method, r.path, event=event, names="body")


def test_a_base64_body_over_the_size_limit_is_refused(refused: Any) -> None:
    r = route("POST", "/users/{userId}/balance/charge")
    refused(r.function, r.method, r.path, event=base64_event(r, padded(r, MAX_BODY_BYTES + 3).encode()), names="body")


def test_a_base64_json_body_is_read(api: Api, seeded: None) -> None:
    r = route("POST", "/users/{userId}/balance/charge")
    status, _, raw = call(api, r.function, r.method, r.path, event=base64_event(r, b'{"amount": 700}'))
    assert status == 200, raw


# ---------------------------------------------------------------- unknown and missing fields


@pytest.mark.parametrize("r", BODY_ROUTES, ids=str)
def test_an_unknown_field_is_refused_and_named(r: Route, refused: Any) -> None:
    refused(r.function, r.method, r.path, with_body(r, surprise=1), names="surprise")


CAMEL_ROUTES = [r for r in BODY_ROUTES if any(ch.isupper() for name in (r.body or {}) for ch in name)]


@pytest.mark.parametrize("r", CAMEL_ROUTES, ids=str)
def test_a_snake_case_field_name_is_refused(r: Route, refused: Any) -> None:
    """The contract's names are camelCase; the Python names are not a second spelling."""
    assert r.body is not None
    name = next(name for name in r.body if any(ch.isupper() for ch in name))
    body = without(r, name)
    snake = "_".join(part.lower() for part in _split_camel(name))
    body[snake] = r.body[name]
    refused(r.function, r.method, r.path, body, names=snake)


def _split_camel(name: str) -> list[str]:
    parts, current = [], ""
    for ch in name:
        if ch.isupper() and current:
            parts.append(current)
            current = ""
        current += ch
    return [*parts, current]


@pytest.mark.parametrize(
    ("r", "nested", "name"),
    [
        (route("POST", "/orders"), {"items": [{"productId": "p-mouse", "quantity": 1, "price": 0}]}, "price"),
        (route("POST", "/coupons"), {"discount": {"type": "FIXED", "amount": 1_000, "rate": 50}}, "rate"),
    ],
    ids=["order line", "discount"],
)
def test_an_unknown_nested_field_is_refused_and_named(
    r: Route, nested: dict[str, Any], name: str, refused: Any
) -> None:
    refused(r.function, r.method, r.path, with_body(r, **nested), names=name)


OPTIONAL = {"userId"}  # the caller when left out (orders and coupon issues)
REQUIRED = [(r, name) for r in BODY_ROUTES for name in (r.body or {}) if name not in OPTIONAL]


@pytest.mark.parametrize(("r", "name"), REQUIRED, ids=[f"{r} {n}" for r, n in REQUIRED])
def test_a_missing_field_is_refused_and_named(r: Route, name: str, refused: Any) -> None:
    refused(r.function, r.method, r.path, without(r, name), names=name)


def test_a_missing_order_line_field_is_refused_and_named(refused: Any) -> None:
    r = route("POST", "/orders")
    refused(r.function, r.method, r.path, with_body(r, items=[{"productId": "p-mouse"}]), names="quantity")
    refused(r.function, r.method, r.path, with_body(r, items=[{"quantity": 1}]), names="productId")


# ---------------------------------------------------------------- types are strict

# (route, where the integer is, a function building the body with a value there)
INTEGER_FIELDS = [
    (route("POST", "/users/{userId}/balance/charge"), "amount", lambda r, v: with_body(r, amount=v)),
    (route("POST", "/orders"), "quantity", lambda r, v: with_body(r, items=[{"productId": "p-mouse", "quantity": v}])),
    (route("POST", "/products"), "price", lambda r, v: with_body(r, price=v)),
    (route("POST", "/products"), "stock", lambda r, v: with_body(r, stock=v)),
    (route("POST", "/products/{productId}/stock"), "quantity", lambda r, v: with_body(r, quantity=v)),
    (route("POST", "/coupons"), "totalQuantity", lambda r, v: with_body(r, totalQuantity=v)),
    (route("POST", "/coupons"), "validDays", lambda r, v: with_body(r, validDays=v)),
    (route("POST", "/coupons"), "amount", lambda r, v: with_body(r, discount={"type": "FIXED", "amount": v})),
    (route("POST", "/coupons"), "rate", lambda r, v: with_body(r, discount={"type": "PERCENT", "rate": v})),
]
INTEGER_IDS = [f"{r} {name}" for r, name, _ in INTEGER_FIELDS]


@pytest.mark.parametrize("value", ["100", "10", "10.0", 10.5, 10.000001, True, False, None, [], {}], ids=repr)
@pytest.mark.parametrize(("r", "name", "build"), INTEGER_FIELDS, ids=INTEGER_IDS)
def test_an_integer_of_the_wrong_type_is_refused_and_named(
    r: Route, name: str, build: Any, value: Any, refused: Any
) -> None:
    refused(r.function, r.method, r.path, build(r, value), names=name)


# below the minimum, above the maximum, and far beyond any 64-bit number
OUT_OF_RANGE = [
    (route("POST", "/users/{userId}/balance/charge"), "amount", [0, -1, 1_000_001, 10**40, -(10**40)]),
    (route("POST", "/orders"), "quantity", [0, -1, 10**40]),
    (route("POST", "/products"), "price", [-1, 10**40]),
    (route("POST", "/products"), "stock", [-1, 10**40]),
    (route("POST", "/products/{productId}/stock"), "quantity", [0, -5, 10**40]),
    (route("POST", "/coupons"), "totalQuantity", [0, 10**40]),
    (route("POST", "/coupons"), "validDays", [0, 10**40]),
    (route("POST", "/coupons"), "amount", [0, 10**40]),
    (route("POST", "/coupons"), "rate", [0, 101, 10**40]),
]
BUILDERS = {(str(r), name): build for r, name, build in INTEGER_FIELDS}
RANGE_CASES = [(r, name, value) for r, name, values in OUT_OF_RANGE for value in values]


@pytest.mark.parametrize(
    ("r", "name", "value"), RANGE_CASES, ids=[f"{r} {name}={value:.3g}" for r, name, value in RANGE_CASES]
)
def test_an_integer_out_of_range_is_refused_and_named(r: Route, name: str, value: int, refused: Any) -> None:
    refused(r.function, r.method, r.path, BUILDERS[(str(r), name)](r, value), names=name)


def raw_with(r: Route, name: str, literal: str) -> str:
    """The body of an INTEGER_FIELDS case with `literal` written, as is, where the integer goes."""
    marker = 7_531_902_468
    text = json.dumps(BUILDERS[(str(r), name)](r, marker))
    assert text.count(str(marker)) == 1
    return text.replace(str(marker), literal)


HUGE_NUMBERS = {
    "400 digits": "9" * 400,
    "5,001 digits": "9" * 5001,  # past Python's int-string limit
    "negative 5,001 digits": "-" + "9" * 5001,
    "5,001 digits and a fraction": "9" * 5001 + ".5",
    "huge exponent": "1e999999999",
    "tiny exponent": "1e-999999999",
    "float overflow": "1e400",
    "exponent past the bound": "1e3",  # integral, but above every bound below
}


@pytest.mark.parametrize("literal", HUGE_NUMBERS.values(), ids=HUGE_NUMBERS.keys())
@pytest.mark.parametrize(("r", "name", "build"), INTEGER_FIELDS, ids=INTEGER_IDS)
def test_a_huge_or_tiny_number_in_the_raw_json_is_refused_and_named(
    r: Route, name: str, build: Any, literal: str, refused: Any
) -> None:
    if literal == "1e3" and name in {"price", "stock", "quantity", "totalQuantity", "validDays", "amount"}:
        literal = "1e11"  # 1,000 is within those bounds
    refused(r.function, r.method, r.path, raw_body=raw_with(r, name, literal), names=name)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("r", BODY_ROUTES[:2], ids=str)
def test_nan_and_infinity_are_not_json(r: Route, literal: str, refused: Any) -> None:
    assert r.body is not None
    name = next(iter(r.body))
    raw = json.dumps(r.body).replace(json.dumps(r.body[name]), literal, 1)
    refused(r.function, r.method, r.path, raw_body=raw, names=literal)


# The same valid values, written as JSON Schema's integers with no fractional part.
INTEGRAL_SPELLINGS = {"5.0": "{}.0", "5.000": "{}.000", "5e0": "{}e0", "5E+0": "{}E+0"}
VALID_INTEGERS = {
    "amount": 5_000,
    "quantity": 2,
    "price": 25_000,
    "stock": 5,
    "totalQuantity": 10,
    "validDays": 7,
    "rate": 10,
}


@pytest.mark.parametrize("spelling", INTEGRAL_SPELLINGS.values(), ids=INTEGRAL_SPELLINGS.keys())
@pytest.mark.parametrize(("r", "name", "build"), INTEGER_FIELDS, ids=INTEGER_IDS)
def test_an_integer_written_with_a_zero_fraction_or_an_exponent_is_accepted(
    r: Route, name: str, build: Any, spelling: str, api: Api, seeded: None
) -> None:
    """JSON Schema's `integer` is any number with no fractional part; the document says `integer`."""
    value = 1_000 if (r.template_path, name) == ("/coupons", "amount") else VALID_INTEGERS[name]
    body = raw_with(r, name, spelling.format(value))
    status, _, raw = call(api, r.function, r.method, r.path, raw_body=body)
    assert status in (200, 201), raw


STRING_FIELDS = [
    (route("POST", "/orders"), "userId", lambda r, v: with_body(r, userId=v)),
    (route("POST", "/orders"), "productId", lambda r, v: with_body(r, items=[{"productId": v, "quantity": 1}])),
    (route("POST", "/orders"), "issuedCouponId", lambda r, v: with_body(r, issuedCouponId=v)),
    (route("POST", "/coupons/{couponId}/issue"), "userId", lambda r, v: with_body(r, userId=v)),
    (route("POST", "/products"), "name", lambda r, v: with_body(r, name=v)),
    (route("POST", "/coupons"), "name", lambda r, v: with_body(r, name=v)),
]
STRING_IDS = [f"{r} {name}" for r, name, _ in STRING_FIELDS]


@pytest.mark.parametrize("value", [5, True, 1.5, [], {}], ids=repr)
@pytest.mark.parametrize(("r", "name", "build"), STRING_FIELDS, ids=STRING_IDS)
def test_a_string_of_the_wrong_type_is_refused_and_named(
    r: Route, name: str, build: Any, value: Any, refused: Any
) -> None:
    refused(r.function, r.method, r.path, build(r, value), names=name)


@pytest.mark.parametrize(("r", "name", "build"), STRING_FIELDS[-2:], ids=STRING_IDS[-2:])
def test_an_empty_or_overlong_name_is_refused(r: Route, name: str, build: Any, refused: Any) -> None:
    refused(r.function, r.method, r.path, build(r, ""), names=name)
    refused(r.function, r.method, r.path, build(r, "x" * 201), names=name)


def test_a_null_where_a_value_is_required_is_refused(refused: Any) -> None:
    r = route("POST", "/orders")
    refused(r.function, r.method, r.path, with_body(r, items=None), names="items")
    c = route("POST", "/coupons")
    refused(c.function, c.method, c.path, with_body(c, discount=None), names="discount")


def test_order_lines_count_and_uniqueness(refused: Any) -> None:
    r = route("POST", "/orders")
    refused(r.function, r.method, r.path, with_body(r, items=[]), names="items")
    many = [{"productId": f"p-{n}", "quantity": 1} for n in range(51)]
    refused(r.function, r.method, r.path, with_body(r, items=many), names="items")
    twice = [{"productId": "p-mouse", "quantity": 1}, {"productId": "p-mouse", "quantity": 2}]
    refused(r.function, r.method, r.path, with_body(r, items=twice), names="p-mouse")
    refused(r.function, r.method, r.path, with_body(r, items={"productId": "p-mouse", "quantity": 1}), names="items")


def test_an_unknown_discount_type_is_refused(refused: Any) -> None:
    c = route("POST", "/coupons")
    for discount in [{"type": "BOGUS", "amount": 1}, {"type": "fixed", "amount": 1}, {"amount": 1}, "FIXED"]:
        refused(c.function, c.method, c.path, with_body(c, discount=discount), names="discount")
    # a FIXED discount described with a rate
    refused(c.function, c.method, c.path, with_body(c, discount={"type": "FIXED", "rate": 10}), names="amount")


# ---------------------------------------------------------------- ids outside [A-Za-z0-9_-]{1,64}

BAD_IDS = {
    "65 chars": "a" * 65,
    "dot": "a.b",
    "space": "a b",
    "empty": "",
    "unicode": "유저",
    "slash-free punctuation": "a:b",
    "newline": "a\nb",
    "trailing newline": "a\n",
}
BAD_PATH_IDS = {
    "65 chars": "a" * 65,
    "dot": "a.b",
    "encoded space": "a%20b",
    "encoded unicode": "%EC%9C%A0%EC%A0%80",
    "raw unicode": "유저",
    "encoded slash": "a%2Fb",
    "colon": "a:b",
    "encoded trailing newline": "a%0A",
}
BODY_ID_FIELDS = STRING_FIELDS[:4]


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize(("r", "name", "build"), BODY_ID_FIELDS, ids=STRING_IDS[:4])
def test_an_id_outside_the_pattern_in_a_body_is_refused(
    r: Route, name: str, build: Any, value: str, refused: Any
) -> None:
    refused(r.function, r.method, r.path, build(r, value), names=name)


PATH_ID_CASES = [(r, name) for r in ID_ROUTES for name in r.ids]


@pytest.mark.parametrize("value", BAD_PATH_IDS.values(), ids=BAD_PATH_IDS.keys())
@pytest.mark.parametrize(("r", "name"), PATH_ID_CASES, ids=[str(r) for r, _ in PATH_ID_CASES])
def test_an_id_outside_the_pattern_in_a_path_is_refused(r: Route, name: str, value: str, refused: Any) -> None:
    refused(r.function, r.method, r.with_id(name, value), r.body, names=name)


# Ids the resolver's route patterns cannot match at all (a slash, an empty segment, symbols): API
# Gateway still routes them (its event names the route and the parameters), and they are ids
# outside the pattern, so 400, not "no such route".
UNROUTABLE_PATH_IDS = {
    "slash": "a/b",
    "empty": "",
    "emoji": "\U0001f600",
    "quote": '"',
    "backslash": "a\\b",
    "backtick": "`",
    "question mark": "a?b",
    "hash": "a#b",
    "newline": "a\nb",
    "trailing newline": "a\n",
    "nul": "a\x00b",
}


def gateway_event(r: Route, name: str, value: str) -> dict[str, Any]:
    """The event API Gateway sends for `r` with the path parameter `name` holding `value`."""
    parameters = {other: value if other == name else VALID_IDS[other] for other in r.ids}
    path = r.template_path
    for key, given in parameters.items():
        path = path.replace(f"{{{key}}}", given)
    event = http_event(r.method, path, r.body)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{r.method} {r.template_path}"
    event["pathParameters"] = parameters
    return event


@pytest.mark.parametrize("value", UNROUTABLE_PATH_IDS.values(), ids=UNROUTABLE_PATH_IDS.keys())
@pytest.mark.parametrize(("r", "name"), PATH_ID_CASES, ids=[str(r) for r, _ in PATH_ID_CASES])
def test_an_id_no_route_pattern_matches_is_refused_not_unknown(r: Route, name: str, value: str, refused: Any) -> None:
    refused(r.function, r.method, r.path, event=gateway_event(r, name, value), names=f"path.{name}")


@pytest.mark.parametrize(("r", "name"), PATH_ID_CASES, ids=[str(r) for r, _ in PATH_ID_CASES])
def test_a_gateway_event_with_valid_ids_reaches_the_route(r: Route, name: str, api: Api, seeded: None) -> None:
    status, _, raw = call(api, r.function, r.method, r.path, event=gateway_event(r, name, VALID_IDS[name]))
    assert status in (200, 201, 409), raw


def test_an_unknown_route_the_gateway_did_not_name_stays_404(refused: Any) -> None:
    event = http_event("GET", "/users/a/b/balance")
    event["routeKey"] = "$default"
    event["pathParameters"] = {"proxy": "users/a/b/balance"}
    refused("BalanceInquiryFunction", "GET", "/users/a/b/balance", event=event, status=404, code="NOT_FOUND")


@pytest.mark.parametrize(("r", "name"), PATH_ID_CASES, ids=[str(r) for r, _ in PATH_ID_CASES])
def test_a_64_char_id_in_a_path_is_not_refused_as_invalid(r: Route, name: str, api: Api, seeded: None) -> None:
    status, _, raw = call(api, r.function, r.method, r.with_id(name, "a" * 64), r.body)
    assert status != 400, raw


# ---------------------------------------------------------------- GET /products query


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "", "1e2", "10**40", str(10**40)])
def test_a_bad_limit_is_refused_and_named(limit: str, refused: Any) -> None:
    refused("ProductInquiryFunction", "GET", "/products", query={"limit": limit}, names="limit")


def test_limits_at_the_bounds_are_accepted(api: Api, aws: Any) -> None:
    products = aws.scan(TableName="ProductsTable", Select="COUNT")["Count"]
    assert 1 < products <= 100
    for limit, count in [("1", 1), ("100", products)]:
        status, _, raw = call(api, "ProductInquiryFunction", "GET", "/products", query={"limit": limit})
        assert status == 200, raw
        assert len(json.loads(raw)["items"]) == count


GARBAGE_CURSORS = {
    "not an id": "garbage!!",
    "dot": "a.b",
    "space": "a b",
    "unicode": "유저",
    "65 chars": "A" * 65,
    "too long": "A" * 600,
    "empty": "",
    "trailing newline": "p-mouse\n",
}


@pytest.mark.parametrize("cursor", GARBAGE_CURSORS.values(), ids=GARBAGE_CURSORS.keys())
def test_a_cursor_outside_the_pattern_is_refused_and_named(cursor: str, refused: Any) -> None:
    refused("ProductInquiryFunction", "GET", "/products", query={"cursor": cursor}, names="cursor")


@pytest.mark.parametrize("cursor", ["0", "zzz", "e30", "p-mouse", "p-mousf", "A" * 64])
def test_any_cursor_of_the_pattern_is_a_position_in_the_catalogue(cursor: str, api: Api, aws: Any) -> None:
    """The document allows any id-shaped cursor, so the API does not refuse one: it answers the
    products after where that key is or would be, in the order of the catalogue's pages."""
    status, _, raw = call(api, "ProductInquiryFunction", "GET", "/products", query={"limit": "100"})
    assert status == 200, raw
    every = [p["productId"] for p in json.loads(raw)["items"]]
    status, _, raw = call(api, "ProductInquiryFunction", "GET", "/products", query={"limit": "100", "cursor": cursor})
    assert status == 200, raw
    after = [p["productId"] for p in json.loads(raw)["items"]]
    assert after == every[len(every) - len(after) :], "a page after a cursor is a tail of the catalogue"
    if cursor in every:
        assert after == every[every.index(cursor) + 1 :]


def test_the_cursor_the_api_returned_works(api: Api, aws: Any) -> None:
    every = {item["productId"]["S"] for item in aws.scan(TableName="ProductsTable")["Items"]}
    assert len(every) > 3
    seen: list[str] = []
    query = {"limit": "3"}
    for _ in range(len(every)):
        status, _, raw = call(api, "ProductInquiryFunction", "GET", "/products", query=query)
        assert status == 200, raw
        page = json.loads(raw)
        assert len(page["items"]) <= 3
        seen += [p["productId"] for p in page["items"]]
        if page["nextCursor"] is None:
            break
        query = {"limit": "3", "cursor": page["nextCursor"]}
    assert sorted(seen) == sorted(every)  # every product once, none twice


# ---------------------------------------------------------------- unknown routes


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_an_unknown_route_is_404_not_found(fn: str, refused: Any) -> None:
    refused(fn, "GET", "/nope", status=404, code="NOT_FOUND")
    refused(fn, "POST", "/nope/deeper", {"a": 1}, status=404, code="NOT_FOUND")


@pytest.mark.parametrize("r", ROUTES, ids=str)
def test_a_method_the_route_does_not_serve_is_404_not_found(r: Route, refused: Any) -> None:
    for method in ("DELETE", "PUT", "PATCH"):
        refused(r.function, method, r.path, r.body, status=404, code="NOT_FOUND")


# ---------------------------------------------------------------- unexpected failures

SECRET = "secret detail at /var/task/shop/services.py line 42"


@pytest.mark.parametrize("r", ROUTES, ids=str)
def test_an_unexpected_exception_is_a_500_internal_error_without_details(
    r: Route, api: Api, aws: Any, seeded: None, serve: Callable[[str, Any], None]
) -> None:
    service_class, method = r.service
    assert callable(getattr(service_class, method))

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET)

    serve(r.function, type("Exploding", (service_class,), {method: explode})())
    before = snapshot(aws)
    status, headers, raw = call(api, r.function, r.method, r.path, r.body)
    body = assert_error(status, headers, raw, 500, "INTERNAL_ERROR")
    assert "secret" not in raw
    assert "RuntimeError" not in raw
    assert body["message"]
    assert snapshot(aws) == before


def test_a_domain_error_with_no_contract_code_is_a_500_internal_error(
    api: Api, seeded: None, serve: Callable[[str, Any], None]
) -> None:
    class Unmapped(Refusal):
        pass

    class Refusing(BalanceService):
        def balance(self, *args: Any, **kwargs: Any) -> Any:
            raise Unmapped(SECRET)

    serve("BalanceInquiryFunction", Refusing())
    status, headers, raw = call(api, "BalanceInquiryFunction", "GET", "/users/user-1/balance")
    assert_error(status, headers, raw, 500, "INTERNAL_ERROR")
    assert "secret" not in raw


def test_a_database_failure_is_a_500_internal_error(api: Api, aws: Any, seeded: None) -> None:
    """A table that is gone (a real DynamoDB error, not a patched one) is answered as the contract says."""
    aws.delete_table(TableName="BalancesTable")
    try:
        status, headers, raw = call(api, "BalanceInquiryFunction", "GET", "/users/user-1/balance")
        assert_error(status, headers, raw, 500, "INTERNAL_ERROR")
        assert "BalancesTable" not in raw
        assert "ResourceNotFound" not in raw
    finally:
        create_tables(aws)
        seed()


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/json;charset=utf-8"]
)
def test_a_json_media_type_is_read_whatever_its_case(api: Any, content_type: str) -> None:
    user = f"case-{len(content_type)}"
    status, body = api.call(
        "BalanceChargeFunction",
        "POST",
        f"/users/{user}/balance/charge",
        raw_body='{"amount": 700}',
        headers={"Content-Type": content_type},
        caller=user,
    )
    assert (status, body) == (200, {"userId": user, "balance": 700})


def test_a_long_refusal_message_is_cut_to_the_cap(api: Api, seeded: None, serve: Callable[[str, Any], None]) -> None:
    """Whatever builds the message, the answer keeps it short."""
    from shop.errors import ProductNotFound

    class Refusing(CatalogueService):
        def product(self, *args: Any, **kwargs: Any) -> Any:
            raise ProductNotFound("p" * 5_000)

    serve("ProductInquiryFunction", Refusing())
    status, headers, raw = call(api, "ProductInquiryFunction", "GET", "/products/p-mouse")
    body = assert_error(status, headers, raw, 404, "PRODUCT_NOT_FOUND")
    assert len(body["message"]) == MAX_MESSAGE
    assert body["message"].endswith("…")


def test_many_invalid_query_values_get_one_short_message(refused: Any) -> None:
    error = refused("ProductInquiryFunction", "GET", "/products", query={"limit": "x" * 10_000, "cursor": "y" * 10_000})
    assert "limit" in error["message"]
    assert "cursor" in error["message"]
    assert "xxxxxxxxxx" not in error["message"]


def test_a_message_naming_long_fields_still_counts_the_rest() -> None:
    """The count of the other failures is never what the cap cuts off."""
    from shop.api.errors import describe_validation_errors

    details = [{"loc": ("body", "k" * 500 + str(n)), "msg": "m" * 500} for n in range(40)]
    message = describe_validation_errors(details)
    assert len(message) <= MAX_MESSAGE
    assert message.endswith(" more")
    named = message.count("body.")
    assert named >= 1
    assert f"and {40 - named} more" in message
