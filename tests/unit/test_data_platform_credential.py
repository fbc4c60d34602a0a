"""The data platform's credential: read from Secrets Manager (moto) through Powertools' parameters
utility and cached for a while; in the local modes only, the token given directly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from shop.data_platform_credential import (
    SECRET_MAX_AGE_SECONDS,
    LocalCredential,
    SecretCredential,
    credential_from,
)
from shop.errors import CredentialUnavailable

SECRET_NAME = "shop-core-dev/data-platform-credential"


@pytest.fixture
def secrets() -> Iterator[Any]:
    """moto's Secrets Manager, and Powertools' providers and caches made afresh inside it."""
    with mock_aws():
        parameters.clear_caches()
        yield boto3.client("secretsmanager")
    parameters.clear_caches()


@pytest.fixture
def secret_arn(secrets: Any) -> str:
    return str(secrets.create_secret(Name=SECRET_NAME, SecretString="first-credential")["ARN"])


def test_the_secrets_value_is_the_credential(secret_arn: str) -> None:
    assert SecretCredential(secret_arn).value() == "first-credential"


def test_the_value_is_kept_for_max_age_so_a_rotation_is_seen_after_it(secrets: Any, secret_arn: str) -> None:
    kept = SecretCredential(secret_arn, max_age=1)
    assert kept.value() == "first-credential"
    secrets.put_secret_value(SecretId=secret_arn, SecretString="rotated-credential")

    assert kept.value() == "first-credential"  # from the cache: no GetSecretValue per delivery
    time.sleep(1.1)  # Powertools' cache reads the wall clock; 1 s stands for the 300 s deployed
    assert kept.value() == "rotated-credential"


def test_a_value_the_data_platform_refused_is_read_again(secrets: Any, secret_arn: str) -> None:
    credential = SecretCredential(secret_arn)
    assert credential.value() == "first-credential"
    secrets.put_secret_value(SecretId=secret_arn, SecretString="rotated-credential")

    credential.refused()

    assert credential.value() == "rotated-credential"  # not the cached one, within max_age
    secrets.put_secret_value(SecretId=secret_arn, SecretString="third-credential")
    assert credential.value() == "rotated-credential"  # cached again once read


def test_the_cache_lasts_minutes_not_the_containers_life() -> None:
    assert 60 <= SECRET_MAX_AGE_SECONDS <= 600


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("credential\n", id="a trailing newline"),
        pytest.param("two words", id="a space"),
        pytest.param("x\r\nX-Injected: 1", id="a header injection"),
        pytest.param(" ", id="blank"),
    ],
)
def test_a_value_that_is_not_a_bearer_token_is_never_sent(secrets: Any, value: str) -> None:
    arn = secrets.create_secret(Name=SECRET_NAME, SecretString=value)["ARN"]
    with pytest.raises(CredentialUnavailable, match="not a bearer token"):
        SecretCredential(arn).value()


def test_a_secret_that_cannot_be_read_is_no_credential(secrets: Any) -> None:
    missing = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{SECRET_NAME}-AbCdEf"
    with pytest.raises(CredentialUnavailable, match="could not be read"):
        SecretCredential(missing).value()


def test_no_secret_configured_is_no_credential() -> None:
    with pytest.raises(CredentialUnavailable, match="DATA_PLATFORM_CREDENTIAL_SECRET_ARN"):
        SecretCredential("").value()


# ---------------------------------------------------------------- local vs deployed


def test_deployed_the_secret_is_used_whatever_the_local_token() -> None:
    credential = credential_from(
        {"DATA_PLATFORM_CREDENTIAL_SECRET_ARN": "arn:secret", "LOCAL_DATA_PLATFORM_TOKEN": "t"}
    )
    assert credential == SecretCredential("arn:secret")


def test_under_sam_local_the_local_token_is_used() -> None:
    environ = {"DATA_PLATFORM_CREDENTIAL_SECRET_ARN": "DataPlatformCredential", "LOCAL_DATA_PLATFORM_TOKEN": "t"}
    assert credential_from({**environ, "AWS_SAM_LOCAL": "true"}) == LocalCredential("t")
    assert LocalCredential("t").value() == "t"


def test_under_sam_local_without_a_token_the_secret_is_still_the_only_source() -> None:
    environ = {"DATA_PLATFORM_CREDENTIAL_SECRET_ARN": "arn:secret", "AWS_SAM_LOCAL": "true"}
    assert credential_from(environ) == SecretCredential("arn:secret")
