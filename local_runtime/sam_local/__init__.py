"""The real `sam local invoke` / `sam local start-api` in Docker, on DynamoDB Local with the sample data.

    python -m local_runtime.sam_local invoke <LogicalId> <event.json>   (make invoke FUNCTION=... EVENT=...)
    python -m local_runtime.sam_local start-api [--port 3000]           (make sam-api [PORT=...])

Steps, each reported on standard error:
1. `scripts/lambda-image.sh ensure`: a Docker engine answers (Debian's dockerd is started if none
   does) and the Lambda base image `public.ecr.aws/lambda/python:3.11-x86_64` exists locally;
2. `sam build --cached` into `.aws-sam/sam-local/` (SAM rebuilds whatever function, layer or
   manifest changed, and always rewrites the built template; a stale build cannot hide a change);
3. DynamoDB Local (in memory, on a free port) with the template's tables and `local_runtime.seed`;
   the local data platform (`local_runtime.data_platform`) on the Docker bridge address, so that
   the forwarder's container can POST to it;
4. `sam local invoke|start-api --skip-pull-image --add-host host.docker.internal:<bridge gateway>
   --parameter-overrides DynamoDbEndpointUrl=http://host.docker.internal:<port>
   DataPlatformUrl=http://host.docker.internal:<port>/orders`
   (`SamLambda` runs `sam local start-lambda --warm-containers EAGER` with the same options and
   invokes its functions with boto3, one at a time: the sample-event tests).

Containers reach nothing but the host's bridge address, so every endpoint a function uses is a
host service reached as `host.docker.internal`. Ctrl-C (or SIGTERM) stops SAM, its containers,
DynamoDB Local and the data platform. A Docker daemon that `lambda-image.sh` started keeps running
for the next call (`scripts/lambda-image.sh stop` stops it; a daemon it did not start is never
touched).

The package, by concern: `sam_cli` (SAM CLI, its environment and work folder), `engine` (Docker),
`build_cache` (`sam build --cached`), `backends` (DynamoDB Local and the data platform),
`child_process` (SAM's output and its stop), `invocation` (`sam local invoke`), `service` (a `sam
local start-*` started, waited for and stopped), `start_api` (`sam local start-api`), `start_lambda`
(`sam local start-lambda`, its functions invoked with boto3), `cli` (the two command lines).
"""

from local_runtime.sam_local.backends import Backends, prepare, seed_tables, start_backends, start_data_platform
from local_runtime.sam_local.build_cache import build, sources_digest
from local_runtime.sam_local.engine import (
    Engine,
    EngineUnavailable,
    bridge_gateway,
    engine_available,
    ensure_engine,
    our_daemon_running,
    remove_containers,
)
from local_runtime.sam_local.invocation import function_for_event, functions, invoke
from local_runtime.sam_local.sam_cli import REGION, ROOT, SamLocalError, sam_environment, sam_executable
from local_runtime.sam_local.start_api import SamApi, routes
from local_runtime.sam_local.start_lambda import SamLambda

__all__ = [
    "REGION",
    "ROOT",
    "Backends",
    "Engine",
    "EngineUnavailable",
    "SamApi",
    "SamLambda",
    "SamLocalError",
    "bridge_gateway",
    "build",
    "engine_available",
    "ensure_engine",
    "function_for_event",
    "functions",
    "invoke",
    "our_daemon_running",
    "prepare",
    "remove_containers",
    "routes",
    "sam_environment",
    "sam_executable",
    "seed_tables",
    "sources_digest",
    "start_backends",
    "start_data_platform",
]
