"""What a run loads and as whom: without a stage, the API at the given URL (a `make run` by
default) with the local issuer's tokens; with one, the stage's API (its `ApiUrl` output unless a
URL is given) with users of its Cognito user pool, made for the run and deleted after it."""

from __future__ import annotations

from dataclasses import dataclass

from remote.users import LocalIssuerUsers, UserSource, trusts_the_local_issuer

DEFAULT_URL = "http://127.0.0.1:3000"


class NoStageUsers(Exception):
    """The run's users cannot be made: the stage cannot be read (no credentials, no stack, no such
    stage), or a deployed URL was given without its stage."""


@dataclass(frozen=True)
class Target:
    url: str
    users: UserSource


def target(url: str | None, stage: str | None, run_id: str) -> Target:
    """The API to load and the source of the run's users."""
    if not stage:
        if url and not trusts_the_local_issuer(url):
            raise NoStageUsers(
                f"URL={url} is not on this machine, so it trusts only its stage's tokens, not the local "
                "issuer's: add STAGE=<stage> (make load URL=... STAGE=dev)"
            )
        return Target(url or DEFAULT_URL, LocalIssuerUsers())
    from remote import stage as stages
    from remote.cognito import CognitoUsers

    try:
        deployed = stages.load(stage)
    except stages.StageError as error:
        raise NoStageUsers(f"STAGE={stage}: {error}") from None
    return Target(url or deployed.api_url, CognitoUsers.of_stage(deployed, run_id=run_id))
