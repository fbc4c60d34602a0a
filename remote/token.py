"""`make token STAGE=<stage> USER=<name> [ADMIN=1]`: an access token of a stage's user pool.

The user (`<name>@example.invalid` in the pool) is made if the pool has none, else given a new
random password; it is in the admin group exactly when `--admin`. The access token goes to stdout,
the user's id (the `sub` the API knows it by) to stderr:

    TOKEN=$(make -s token STAGE=dev USER=alice)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from remote import stage as stages
from remote.cognito import CognitoUsers
from shop.auth.tokens import SUBJECT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remote.token", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, help="a stage of samconfig.toml (dev)")
    parser.add_argument("--user", required=True, help="the user's name ([A-Za-z0-9_-]{1,64})")
    parser.add_argument("--admin", action="store_true", help="a member of the admin group")
    args = parser.parse_args(argv)
    if not SUBJECT.fullmatch(args.user):
        print(f"ERROR: USER must be a name ([A-Za-z0-9_-]{{1,64}}), not {args.user[:80]!r}", file=sys.stderr)
        return 2
    try:
        stage = stages.load(args.stage)
        user = CognitoUsers.of_stage(stage).sign_in(args.user, admin=args.admin)
    except stages.StageError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print("ERROR: no AWS credentials: set AWS_PROFILE, or sign in (aws sso login / aws configure)", file=sys.stderr)
        return 1
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"ERROR: Cognito refused: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"user id: {user.user_id}", file=sys.stderr)
    print(user.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
