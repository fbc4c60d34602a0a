"""A small JSON client of the API for a run's set-up and its checks (the load itself goes through
Locust's client)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from remote.users import TestUser

TIMEOUT_SECONDS = 30


class ApiError(Exception):
    """The API answered other than the call expected."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path}: {status} {str(body)[:300]}")
        self.status = status
        self.body = body


class Api:
    """Calls to the API at `base_url`, as a given user."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()

    def call(self, method: str, path: str, user: TestUser | None = None, body: Any = None) -> Any:
        """The answer's body; `ApiError` unless the status is 2xx."""
        response = self._session.request(
            method,
            self.base_url + path,
            json=body,
            headers=user.headers if user else {},
            timeout=TIMEOUT_SECONDS,
        )
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if not 200 <= response.status_code < 300:
            raise ApiError(method, path, response.status_code, payload)
        return payload

    def pages(self, path: str, user: TestUser, limit: int = 100) -> list[Any]:
        """Every item of a paginated list (`items`, `nextCursor`)."""
        items: list[Any] = []
        cursor: str | None = None
        separator = "&" if "?" in path else "?"
        while True:
            query = f"limit={limit}" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
            page = self.call("GET", f"{path}{separator}{query}", user)
            items.extend(page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return items
