"""The host services the containers use: DynamoDB Local with the tables and sample data, and the
local data platform, on the Docker bridge address; started beside the build."""

from __future__ import annotations

import contextlib
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from local_runtime import aws_env, dynamodb_local
from local_runtime.data_platform import DataPlatformServer
from local_runtime.sam_local.build_cache import build
from local_runtime.sam_local.engine import bridge_gateway
from local_runtime.sam_local.sam_cli import CONTAINER_HOST, REGION, ROOT, Progress, SamLocalError


def seed_tables(endpoint: str) -> None:
    """Create the template's tables on `endpoint` and put the sample data, as `make run` does."""
    layer = str(ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    import boto3

    from local_runtime.seed import seed_at
    from local_runtime.tables import create_tables

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=aws_env.DUMMY_CREDENTIALS["key"],
        aws_secret_access_key=aws_env.DUMMY_CREDENTIALS["secret"],
    )
    create_tables(client)
    seed_at(endpoint, REGION)


@dataclass
class Backends:
    """The host services the containers use, reached from them as host.docker.internal."""

    dynamodb: dynamodb_local.DynamoDBLocal
    data_platform: DataPlatformServer
    gateway: str

    @property
    def dynamodb_url(self) -> str:
        """DynamoDB Local as a container reaches it."""
        return f"http://{CONTAINER_HOST}:{self.dynamodb.port}"

    @property
    def data_platform_port(self) -> int:
        return int(self.data_platform.server_address[1])

    @property
    def data_platform_url(self) -> str:
        """The data platform's POST /orders as a container reaches it."""
        return f"http://{CONTAINER_HOST}:{self.data_platform_port}/orders"

    @property
    def data_platform_host_url(self) -> str:
        """The data platform's GET /orders as this machine reaches it."""
        host = str(self.data_platform.server_address[0])
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.data_platform_port}/orders"

    def sam_options(self) -> list[str]:
        """The options every `sam local` command needs to run the functions on these services (and
        the local token issuer's public key, which the authorizer trusts under `sam local` only)."""
        from local_runtime.issuer import public_key_parameter

        return [
            "--skip-pull-image",
            "--region",
            REGION,
            "--add-host",
            f"{CONTAINER_HOST}:{self.gateway}",
            "--parameter-overrides",
            f"DynamoDbEndpointUrl={self.dynamodb_url} DataPlatformUrl={self.data_platform_url}"
            f" LocalTokenPublicKey={public_key_parameter()} TracingDisabled=true"
            f" LocalDataPlatformToken={self.data_platform.credential}",
        ]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.data_platform.stop()
        self.dynamodb.stop()


def start_data_platform(gateway: str, port: int = 0) -> DataPlatformServer:
    """The local data platform on the bridge address (containers reach only that one), or on every
    address if that cannot be bound."""
    try:
        server = DataPlatformServer(host=gateway, port=port)
    except OSError:
        try:
            server = DataPlatformServer(host="0.0.0.0", port=port)
        except OSError as error:
            raise SamLocalError(f"cannot start the local data platform on port {port}: {error.strerror}") from error
    return server.start()


def start_backends(gateway: str | None = None, *, progress: Progress = print) -> Backends:
    """DynamoDB Local (in memory, a free port) with the tables and sample data, and the data platform."""
    gateway = gateway or bridge_gateway()
    progress("starting DynamoDB Local (in memory)")
    try:
        dynamodb = dynamodb_local.start(progress=progress)
    except dynamodb_local.SetupError as error:
        raise SamLocalError(str(error)) from error
    try:
        progress(f"creating the tables and seeding the sample data on {dynamodb.endpoint}")
        seed_tables(dynamodb.endpoint)
        data_platform = start_data_platform(gateway)
    except BaseException:
        dynamodb.stop()
        raise
    backends = Backends(dynamodb=dynamodb, data_platform=data_platform, gateway=gateway)
    progress(f"data platform on {backends.data_platform_host_url} (containers: {backends.data_platform_url})")
    return backends


def prepare(progress: Progress = print) -> Backends:
    """`build` and `start_backends` side by side (a few seconds each); the running backends."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam-build") as pool:
        built = pool.submit(build, progress)
        try:
            backends = start_backends(progress=progress)
        except BaseException:
            with contextlib.suppress(BaseException):
                built.result()
            raise
        try:
            built.result()
        except BaseException:
            backends.stop()
            raise
    return backends
