"""`local_runtime.aws_env`: what a local tool gives its own clients when the shell has no AWS
configuration, and what it keeps or drops when it has some."""

from __future__ import annotations

from local_runtime import aws_env


def test_a_newcomers_environment_gets_a_region_and_dummy_credentials() -> None:
    env = {"PATH": "/usr/bin", "HOME": "/tmp/home"}
    aws_env.for_emulators(env)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/tmp/home",
        "AWS_DEFAULT_REGION": aws_env.REGION,
        "AWS_REGION": aws_env.REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "SAM_CLI_TELEMETRY": "0",
    }


def test_a_region_and_credentials_already_set_are_kept() -> None:
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    aws_env.for_emulators(env)
    assert (env["AWS_DEFAULT_REGION"], env["AWS_REGION"]) == ("eu-west-1", "eu-west-1")
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("a", "b")


def test_a_profile_or_an_endpoint_of_the_shell_cannot_send_local_clients_elsewhere() -> None:
    env = {
        "AWS_PROFILE": "prod",
        "AWS_ENDPOINT_URL": "https://example.com",
        "AWS_ENDPOINT_URL_DYNAMODB": "https://example.com",
        "AWS_SESSION_TOKEN": "t",
    }
    aws_env.for_emulators(env)
    assert not {"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_SESSION_TOKEN"} & set(env)
    assert env["AWS_ACCESS_KEY_ID"] == "local"
