"""The remote suite: the API's contract (`/work/shared/API.md` as the README states it) checked
over HTTP alone, against any URL.

Configured from the environment (`make e2e-remote` sets it):

- `API_URL`: the API to test. Unset: the suite starts the local runtime (`make run`) on free ports
  for the session (`make remote`, part of `make test`).
- `STAGE`: a stage of samconfig.toml (`dev`). Its users come from its Cognito user pool, made for
  the run and deleted at the end of the session, failed or not; without `API_URL` the URL is the
  stack's `ApiUrl` output. Unset: tokens of the local issuer, which only a local mode trusts.
- `RACE_CLIENTS`: how many clients race at once (40: a scale a shared stage takes).
- `FUZZ_MAX_EXAMPLES`: generated requests per operation in the Schemathesis run.

The data is the run's own: its users (named with the run's id), and the products and campaigns
its admin user makes through the API; nothing assumes the local seed.
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from remote.users import LocalIssuerUsers, TestUser, UserSource, trusts_the_local_issuer
from tests.support.http import Client
from tests.support.runtime import dynamodb_local_endpoint, local_runtime  # noqa: F401 (session fixtures)

RUN = f"r{uuid.uuid4().hex[:8]}"
"""This run's id: in its users' names and its products' and campaigns' names."""
STAGE = os.environ.get("STAGE", "")
API_URL = os.environ.get("API_URL", "")
RACE_CLIENTS = int(os.environ.get("RACE_CLIENTS", "40"))

if STAGE and "tests.conftest" in sys.modules:
    pytest.exit(
        "on a stage, run the remote suite with `make e2e-remote STAGE=...`: tests/conftest.py (loaded "
        "for `pytest tests`) replaces the AWS credentials with placeholders",
        returncode=2,
    )


@pytest.fixture(scope="session")
def users() -> Iterator[UserSource]:
    """Where the run's users come from; every user it made is deleted when the session ends."""
    source: UserSource
    if STAGE:
        from remote import stage
        from remote.cognito import CognitoUsers

        try:
            source = CognitoUsers.of_stage(stage.load(STAGE), run_id=RUN)
        except stage.StageError as error:
            pytest.exit(f"stage {STAGE}: {error}", returncode=2)
    else:
        source = LocalIssuerUsers()
    try:
        yield source
    finally:
        source.delete_all()


@pytest.fixture(scope="session")
def api_url(request: pytest.FixtureRequest) -> str:
    if API_URL:
        if not STAGE and not trusts_the_local_issuer(API_URL):
            pytest.exit(
                f"API_URL={API_URL} is not on this machine, so it trusts only its stage's tokens, not the "
                "local issuer's: add STAGE=<stage> (make e2e-remote API_URL=... STAGE=dev)",
                returncode=2,
            )
        return API_URL.rstrip("/")
    if STAGE:
        from remote import stage

        try:
            return stage.load(STAGE).api_url.rstrip("/")
        except stage.StageError as error:
            pytest.exit(f"stage {STAGE}: {error}", returncode=2)
    return str(request.getfixturevalue("local_runtime").url)


@pytest.fixture(scope="session")
def api(api_url: str) -> Client:
    """The API, called with no token."""
    return Client(api_url)


NewUser = Callable[..., TestUser]


@pytest.fixture(scope="session")
def new_user(users: UserSource) -> NewUser:
    """`new_user(role, admin=False)`: a new user of the run."""
    numbers = itertools.count(1)

    def make(role: str = "user", *, admin: bool = False) -> TestUser:
        return users.create(f"{role}-{RUN}-{next(numbers)}", admin=admin)

    return make


@pytest.fixture(scope="session")
def admin_user(new_user: NewUser) -> TestUser:
    return new_user("admin", admin=True)


@pytest.fixture(scope="session")
def admin(api: Client, admin_user: TestUser) -> Client:
    """The API, called by the run's admin (catalogue administration)."""
    return api.with_headers(admin_user.headers)


@pytest.fixture
def user(new_user: NewUser) -> TestUser:
    """A new user, for one test."""
    return new_user()


@pytest.fixture
def me(api: Client, user: TestUser) -> Client:
    """The API, called by `user`."""
    return api.with_headers(user.headers)


def as_(api: Client, user: TestUser) -> Client:
    """The API, called by `user`."""
    return api.with_headers(user.headers)


def new_product(admin: Client, *, price: int, stock: int, label: str = "product") -> dict[str, Any]:
    """A product of the run, made by its admin."""
    product: dict[str, Any] = admin.ok("POST", "/products", {"name": f"{label} {RUN}", "price": price, "stock": stock})
    return product


def new_campaign(admin: Client, *, quantity: int, discount: dict[str, Any] | None = None) -> dict[str, Any]:
    """A coupon campaign of the run (1,000 won off unless `discount`), made by its admin."""
    body = {
        "name": f"campaign {RUN}",
        "discount": discount or {"type": "FIXED", "amount": 1_000},
        "totalQuantity": quantity,
        "validDays": 7,
    }
    campaign: dict[str, Any] = admin.ok("POST", "/coupons", body)
    return campaign
