"""Where a run's users come from: the local issuer's tokens for a local mode, the stage's Cognito
user pool for a deployed stage."""

from __future__ import annotations

import importlib
from typing import cast

from remote.users import LocalIssuerUsers, UserSource


class NoStageUsers(Exception):
    """This checkout cannot make users on a stage."""


def user_source(stage: str | None) -> UserSource:
    """The local issuer's users without a stage; with one, users of the stage's Cognito user pool
    (made for the run, deleted after it)."""
    if not stage:
        return LocalIssuerUsers()
    cognito = getattr(importlib.import_module("remote.users"), "CognitoUsers", None)
    if cognito is None:
        raise NoStageUsers(
            f"STAGE={stage}: no Cognito user source here (remote.users.CognitoUsers), so no tokens for a stage; "
            "without STAGE the run uses the local issuer's tokens, which only a local mode trusts"
        )
    return cast(UserSource, cognito.for_stage(stage))
