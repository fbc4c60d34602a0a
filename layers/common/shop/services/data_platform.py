"""Sending completed orders to the data platform, with the shop's credential."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus
from typing import Any

from shop.data_platform_credential import Credential, credential_from
from shop.errors import CredentialRefused, CredentialUnavailable, DataPlatformUnavailable
from shop.models.order import Order
from shop.observability import logger
from shop.settings import settings

TIMEOUT_SECONDS = 5
"""Per order: a batch of 5 waits at most 25 s, within the forwarder's 30 s."""


_REFUSING_THE_CREDENTIAL = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not a delivery: urllib would follow a 301 or 302 to a POST with a GET
    without the body, and the order would be taken as sent."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


class DataPlatformService:
    def __init__(self, url: str | None = None, credential: Credential | None = None) -> None:
        self._url = url or settings().data_platform_url
        if urllib.parse.urlsplit(self._url).scheme not in ("http", "https"):
            raise ValueError(f"DATA_PLATFORM_URL must be an http(s) URL, not {self._url!r}")
        self._credential = credential if credential is not None else credential_from(os.environ)

    def send(self, order: Order) -> None:
        """POST the order as JSON with `Authorization: Bearer <credential>`. The data platform
        dedupes by orderId, so a retry is safe."""
        try:
            credential = self._credential.value()
        except CredentialUnavailable as error:
            raise DataPlatformUnavailable(f"no credential to send: {error}") from error
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self._url,
            data=order.model_dump_json(by_alias=True).encode(),
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": order.order_id,
                "Authorization": f"Bearer {credential}",
            },
            method="POST",
        )
        try:
            with _OPENER.open(request, timeout=TIMEOUT_SECONDS):
                pass
        except urllib.error.HTTPError as error:  # raised for every status but 2xx
            if error.code in _REFUSING_THE_CREDENTIAL:
                self._credential.refused()
                raise CredentialRefused(f"data platform answered {error.code}: it refused the credential") from error
            raise DataPlatformUnavailable(f"data platform answered {error.code}") from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise DataPlatformUnavailable(f"data platform unreachable: {error}") from error
        logger.info("order sent to the data platform", extra={"order_id": order.order_id})
