"""The published OpenAPI document, fuzzed with Schemathesis against the API under test (the local
runtime, `make run`, unless `API_URL` names another).

Every operation of the document (`make openapi`, read here exactly as that command writes it) gets
schema-valid requests (examples, boundary values, generated data) and schema-invalid ones, through
the gateway to the functions, and each answer is checked:

- `not_a_server_error`: never a 5xx;
- `status_code_conformance`: only statuses the document lists for the operation;
- `content_type_conformance`, `response_schema_conformance`: the answer is the documented JSON;
- `positive_data_acceptance`: a request the document allows is never refused as malformed (400);
- `negative_data_rejection`: a request the document forbids is refused.

Bounded and reproducible: a fixed seed, derandomized generation, no example database, and a cap on
examples per operation (fewer on a URL of another's, a stage that others share), so the run is the
same on every machine and fits CI.

The caller of a request is the user it names (path, then body) when the run's users can be anyone
(the local issuer's); on a stage, whose users are the run's own, a valid user id the request names
becomes the run's fuzzing user's.

Two kinds of answer are excused, each in `check_an_exception` with its reason: a body that is not
UTF-8, which SAM's local gateway fails on before any function runs (API Gateway passes it on and
the function answers 400), and an order naming a product twice, a rule JSON Schema cannot state.
Nothing else is.

`FUZZ_MAX_EXAMPLES=500 make remote` (or pytest on this file) fuzzes longer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi import checks

from remote.users import LocalIssuerUsers, TestUser, UserSource
from tests.remote.conftest import RUN

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Examples per operation in the fuzzing phase (the coverage phase adds its boundary cases): fewer
# on a deployed API.
DEPLOYED = bool(os.environ.get("API_URL") or os.environ.get("STAGE"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10" if DEPLOYED else "60"))
SEED = 20261126

# Catalogue administration (API.md "Catalogue administration"): called as an admin.
ADMIN_OPERATIONS = {
    ("POST", "/products"),
    ("POST", "/products/{productId}/stock"),
    ("POST", "/coupons"),
    ("GET", "/coupons/{couponId}"),
}
# The caller when a request names no valid user of its own.
FUZZ_USER = f"fuzz-{RUN}"

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.positive_data_acceptance,
    checks.negative_data_rejection,
]


def published_document() -> dict[str, Any]:
    """The document as `make openapi` writes it (its own process: loading every function here
    would share their cached clients with the local runtime's)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "local_runtime.openapi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "no-shrink": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_dict(published_document(), config=CONFIG)


def named_user(case: schemathesis.Case) -> str | None:
    """The valid user id the request names (path, then body), if any."""
    body = case.body if isinstance(case.body, dict) else {}
    for value in ((case.path_parameters or {}).get("userId"), body.get("userId")):
        if isinstance(value, str) and ID.fullmatch(value):
            return value
    return None


class Callers:
    """Who makes each request: the user it names when `users` can make a user of any id (the local
    issuer's), else the run's fuzzing user, whose id then replaces the one the request names; catalogue
    administration as the run's admin."""

    def __init__(self, users: UserSource, admin: TestUser) -> None:
        self._users = users
        self._admin = admin
        self._any_id = isinstance(users, LocalIssuerUsers)
        self._made: dict[str, TestUser] = {}

    def _user(self, name: str) -> TestUser:
        if name not in self._made:
            self._made[name] = self._users.create(name)
        return self._made[name]

    def headers_for(self, case: schemathesis.Case) -> dict[str, str]:
        if (case.operation.method.upper(), case.operation.path) in ADMIN_OPERATIONS:
            return self._admin.headers
        named = named_user(case)
        if self._any_id:
            return self._user(named or FUZZ_USER).headers
        user = self._user(FUZZ_USER)
        if named is not None:
            if (case.path_parameters or {}).get("userId") == named:
                case.path_parameters = {**(case.path_parameters or {}), "userId": user.user_id}
            if isinstance(case.body, dict) and case.body.get("userId") == named:
                case.body = {**case.body, "userId": user.user_id}
        return user.headers


# ---------------------------------------------------------------- exceptions, with their reasons


def body_is_not_utf8(response: schemathesis.Response) -> bool:
    """The request's body is bytes that are not UTF-8 text."""
    body = response.request.body
    if not isinstance(body, bytes):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def repeats_a_product(case: schemathesis.Case) -> bool:
    """An order body with two lines of one product."""
    lines = case.body.get("items") if isinstance(case.body, dict) else None
    if not isinstance(lines, list):
        return False
    products = [json.dumps(line.get("productId")) for line in lines if isinstance(line, dict)]
    return len(products) != len(set(products))


def is_positive(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


# Every Idempotency-Key sent (as the server reads it) and the first request it came with.
KEYS_SENT: dict[str, tuple[str, str, str]] = {}


def reuses_a_key(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """The request carries an Idempotency-Key that an earlier request of this run carried with
    another method, path or body."""
    key = {name.lower(): value for name, value in (case.headers or {}).items()}.get("idempotency-key")
    if not isinstance(key, str):
        return False
    key = key.strip(" \t")  # as the server reads it: HTTP drops the spaces around a header value
    request = response.request
    sent = (str(request.method), str(request.url), str(request.body))
    return KEYS_SENT.setdefault(key, sent) != sent


def check_an_exception(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """Check the answers the document cannot promise; True when `response` was one of them."""
    if reuses_a_key(case, response) and response.status_code == 422:
        # The fuzzer draws keys from a small space and sends one key with several bodies: the
        # contract answers the second body 422 IDEMPOTENCY_KEY_REUSED, which no schema can foresee.
        assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED", response.text
        return True
    if body_is_not_utf8(response) and response.status_code == 502:
        # SAM's local gateway decodes every body as UTF-8 and answers 502 before any function runs
        # when it cannot. API Gateway hands such a body to the function base64-encoded, and the
        # function refuses it with 400 INVALID_REQUEST (tests/unit/test_http_edges.py).
        assert response.json() == {"message": "Internal server error"}, response.text
        return True
    if case.operation.path == "/orders" and is_positive(case) and repeats_a_product(case):
        # "each product at most once" (API.md): JSON Schema cannot require the lines' productIds to
        # differ (uniqueItems compares whole lines), so the document allows what the API refuses.
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_REQUEST"
        case.validate_response(response, checks=[c for c in CHECKS if c is not checks.positive_data_acceptance])
        return True
    return False


@pytest.fixture(scope="module")
def session() -> requests.Session:
    return requests.Session()


@pytest.fixture(scope="module")
def callers(users: UserSource, admin_user: TestUser) -> Callers:
    return Callers(users, admin_user)


# Requests sent, by operation and by whether the document allows them.
SENT: Counter[tuple[str, bool]] = Counter()


@schema.parametrize()
def test_the_api_answers_as_its_document_says(
    case: schemathesis.Case, api_url: str, session: requests.Session, callers: Callers
) -> None:
    response = case.call(base_url=api_url, session=session, headers=callers.headers_for(case), timeout=30)
    SENT[(case.operation.label, is_positive(case))] += 1
    if not check_an_exception(case, response):
        case.validate_response(response, checks=CHECKS)


def test_every_operation_was_fuzzed_with_valid_and_invalid_requests() -> None:
    """The run above reached every operation, with both kinds of request where the operation
    takes input (GET /products/popular takes none)."""
    if not SENT:
        pytest.skip("the fuzzing test did not run in this session")
    labels = {f"{method.upper()} {path}" for path, ops in schema.raw_schema["paths"].items() for method in ops}
    for label in labels:
        assert SENT[(label, True)] >= 1, label
        if label != "GET /products/popular":
            assert SENT[(label, False)] >= 10, label
