"""Identifiers: opaque strings of [A-Za-z0-9_-]{1,64}."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Annotated

from pydantic import StringConstraints

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

Id = Annotated[str, StringConstraints(strict=True, pattern=ID_PATTERN)]


def new_id() -> str:
    """A new time-ordered id: the milliseconds since the epoch in hex (11 digits until the year
    2527), then 16 random hex digits."""
    return f"{int(time.time() * 1000):010x}{secrets.token_hex(8)}"


def issued_coupon_id(coupon_id: str, user_id: str) -> str:
    """The id of the one coupon of a campaign a user may hold.

    Deterministic, so the issuance can put it on condition that it does not exist yet:
    the database itself refuses a second coupon of the same campaign for the same user.
    """
    digest = hashlib.sha256(f"{coupon_id}\x00{user_id}".encode()).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def derived_id(kind: str, *parts: str) -> str:
    """A deterministic id for the change of kind `kind` a request asks for, e.g. the charge of a
    request carrying an idempotency key: sending it again names the same change."""
    digest = hashlib.sha256("\x00".join((kind, *parts)).encode()).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


SEQUENCE_CLOCK_DIGITS = 12
SEQUENCE_PATTERN = r"^[0-9a-f]{12}#[A-Za-z0-9_-]{1,64}$"
SEQUENCE_CURSOR_PATTERN = r"^[0-9a-f]{12}[A-Za-z0-9_-]{1,64}$"


def sequence(entity_id: str) -> str:
    """A sort key that orders by time: the milliseconds since the epoch (12 hex digits), then the id."""
    return f"{int(time.time() * 1000):012x}#{entity_id}"
