"""Test users in a stage's Cognito user pool (`CognitoUsers`), signed in with the admin password
flow that the `dev` stage's app client allows (template.yaml, `UserPoolClient`).

The pool's usernames are email addresses (`UsernameAttributes: [email]`): a user named `alice` of
run `r1a2` is `alice.r1a2@example.invalid` (`.invalid` is a domain that never receives mail, and
Cognito sends none: `MessageAction: SUPPRESS`). The API knows a user by the `sub` Cognito gives it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import string
import threading
from typing import Any

from remote.stage import Stage
from remote.users import TestUser
from shop.auth.tokens import SUBJECT

ADMIN_GROUP = "admin"
EMAIL_DOMAIN = "example.invalid"
PASSWORD_LENGTH = 32
_SYMBOLS = "^$*.[]{}()?!@#%&,><:;|_~=+-"


def random_password(length: int = PASSWORD_LENGTH) -> str:
    """A password any pool policy up to `length` characters accepts: every class of character
    (lower case, upper case, digits, symbols), the rest drawn from all of them."""
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS]
    alphabet = "".join(classes)
    chars = [secrets.choice(chars) for chars in classes]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without verifying it (the API verifies; a client reads its own `sub`)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


class CognitoUsers:
    """Users of a stage's user pool, made and signed in through the Cognito admin API.

    `cognito` is a boto3 `cognito-idp` client in the pool's region (a seam: tests give one of an
    emulated Cognito). `run_id` (random unless given) is part of the username of every user
    `create` makes, so runs sharing a pool never meet; `delete_all` removes the run's users."""

    def __init__(self, cognito: Any, user_pool_id: str, client_id: str, run_id: str | None = None) -> None:
        self._cognito = cognito
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self.run_id = run_id or secrets.token_hex(4)
        self._created: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def of_stage(cls, stage: Stage, run_id: str | None = None, session: Any = None) -> CognitoUsers:
        """The users of `stage`'s pool, with the default AWS credentials (or `session`'s)."""
        import boto3
        from botocore.config import Config

        session = session or boto3.session.Session()
        cognito = session.client(
            "cognito-idp", region_name=stage.region, config=Config(retries={"mode": "adaptive", "max_attempts": 10})
        )
        return cls(cognito, stage.user_pool_id, stage.user_pool_client_id, run_id)

    def username(self, name: str, *, of_the_run: bool = True) -> str:
        """The pool's username (an email address) of the user named `name`: of this run
        (`create`), or the name alone (`sign_in`)."""
        if not SUBJECT.fullmatch(name):
            raise ValueError(f"a user's name must be an id ([A-Za-z0-9_-]{{1,64}}), not {name[:80]!r}")
        local = f"{name}.{self.run_id}" if of_the_run else name
        return f"{local}@{EMAIL_DOMAIN}".lower()

    def create(self, name: str, *, admin: bool = False) -> TestUser:
        """A new user of the pool named `name` (in the admin group when `admin`), signed in."""
        username = self.username(name)
        self._cognito.admin_create_user(
            UserPoolId=self.user_pool_id,
            Username=username,
            UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
        with self._lock:
            self._created.append(username)
        return self._sign_in(username, admin)

    def sign_in(self, name: str, *, admin: bool = False) -> TestUser:
        """The user named `name`, made if the pool has none, else given a new password; in the
        admin group exactly when `admin`; signed in. Its username is the name alone, not of the
        run, and `delete_all` leaves it (`make token STAGE=`: a person's user stays)."""
        username = self.username(name, of_the_run=False)
        try:
            self._cognito.admin_get_user(UserPoolId=self.user_pool_id, Username=username)
        except self._cognito.exceptions.UserNotFoundException:
            self._cognito.admin_create_user(
                UserPoolId=self.user_pool_id,
                Username=username,
                UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
                MessageAction="SUPPRESS",
            )
        if not admin:
            self._cognito.admin_remove_user_from_group(
                UserPoolId=self.user_pool_id, Username=username, GroupName=ADMIN_GROUP
            )
        return self._sign_in(username, admin)

    def _sign_in(self, username: str, admin: bool) -> TestUser:
        password = random_password()
        self._cognito.admin_set_user_password(
            UserPoolId=self.user_pool_id, Username=username, Password=password, Permanent=True
        )
        if admin:
            self._cognito.admin_add_user_to_group(
                UserPoolId=self.user_pool_id, Username=username, GroupName=ADMIN_GROUP
            )
        answer = self._cognito.admin_initiate_auth(
            UserPoolId=self.user_pool_id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        if "AuthenticationResult" not in answer:
            raise RuntimeError(f"signing in {username} asked for {answer.get('ChallengeName')!r}, not a token")
        token = answer["AuthenticationResult"]["AccessToken"]
        user_id = str(claims(token).get("sub", ""))
        if not SUBJECT.fullmatch(user_id):
            raise RuntimeError(f"the pool gave {username} a sub the API cannot take as a user id: {user_id!r}")
        return TestUser(user_id, token, admin)

    def delete_all(self) -> None:
        """Delete every user `create` made (those already gone are skipped)."""
        with self._lock:
            usernames, self._created = self._created, []
        for username in usernames:
            with contextlib.suppress(self._cognito.exceptions.UserNotFoundException):
                self._cognito.admin_delete_user(UserPoolId=self.user_pool_id, Username=username)
