"""Reading `template.yaml`: the single source of the tables, functions, pipes, buses, rules, queues
and event sources run locally."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(yaml_parse(path.read_text()))


def of_type(doc: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """A template document's resources of one type, by logical id."""
    return {name: res for name, res in doc["Resources"].items() if res.get("Type") == kind}


def resources(kind: str, path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return of_type(load(path), kind)


def table_definitions(path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """CreateTable arguments for every AWS::DynamoDB::Table, named by logical id (as `sam local`
    resolves a `!Ref` to a table)."""
    definitions = {}
    for name, resource in resources("AWS::DynamoDB::Table", path).items():
        props = resource["Properties"]
        definition: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if definition["BillingMode"] == "PROVISIONED":
            definition["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index_kind in props:
                definition[index_kind] = props[index_kind]
        if "StreamSpecification" in props:
            definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        definitions[name] = definition
    return definitions


def ttl_attributes(path: Path = TEMPLATE) -> dict[str, str]:
    """The time-to-live attribute of each table that declares one."""
    return {
        name: resource["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for name, resource in resources("AWS::DynamoDB::Table", path).items()
        if resource["Properties"].get("TimeToLiveSpecification", {}).get("Enabled")
    }


# ---------------------------------------------------------------------------------------------
# The event parts of the template: pipes, rules, queues and SQS event sources, as definitions the
# local stand-ins (`pipe`, `bus`, `queues`, `sqs_source`) are built from. Event patterns are kept
# as JSON text, as EventBridge takes them.
# ---------------------------------------------------------------------------------------------

LOG = logging.getLogger("local_runtime.template")

# EventBridge's defaults when a rule target declares no RetryPolicy.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86_400
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30


def logical_id(reference: Any) -> str | None:
    """The logical id a `!Ref X` or `!GetAtt X.Attr` points at."""
    if isinstance(reference, Mapping):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            target = reference["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def _pattern_text(pattern: Any) -> str:
    return pattern if isinstance(pattern, str) else json.dumps(pattern or {})


@dataclass(frozen=True)
class PipeDefinition:
    """An `AWS::Pipes::Pipe` from a table's stream to an event bus."""

    name: str
    table: str
    bus: str
    starting_position: str
    batch_size: int
    filters: tuple[str, ...]  # event patterns (JSON) a record must match one of, if any
    source: str
    detail_type: str


def pipe_definitions(doc: Mapping[str, Any] | None = None) -> list[PipeDefinition]:
    """Every pipe of the template from a table's stream to an event bus."""
    doc = doc or load()
    resources = doc["Resources"]
    pipes = []
    for name, resource in of_type(doc, "AWS::Pipes::Pipe").items():
        props = resource["Properties"]
        table, bus = logical_id(props.get("Source")), logical_id(props.get("Target"))
        if resources.get(table, {}).get("Type") != "AWS::DynamoDB::Table":
            LOG.warning("pipe %s: source is not a table stream; not run locally", name)
            continue
        if resources.get(bus, {}).get("Type") != "AWS::Events::EventBus":
            LOG.warning("pipe %s: target is not an event bus; not run locally", name)
            continue
        source = props.get("SourceParameters", {})
        stream = source.get("DynamoDBStreamParameters", {})
        target = props.get("TargetParameters", {}).get("EventBridgeEventBusParameters", {})
        pipes.append(
            PipeDefinition(
                name=name,
                table=str(table),
                bus=str(bus),
                starting_position=stream.get("StartingPosition", "LATEST"),
                batch_size=int(stream.get("BatchSize", 100)),
                filters=tuple(_pattern_text(f["Pattern"]) for f in source.get("FilterCriteria", {}).get("Filters", [])),
                source=target.get("Source", f"Pipe {name}"),
                detail_type=target.get("DetailType", "Event from aws:dynamodb"),
            )
        )
    return pipes


def event_buses(doc: Mapping[str, Any] | None = None) -> list[str]:
    """The logical ids of the template's event buses, sorted."""
    return sorted(of_type(doc or load(), "AWS::Events::EventBus"))


@dataclass(frozen=True)
class RetryPolicy:
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS


def _retry_policy(policy: Mapping[str, Any] | None) -> RetryPolicy:
    policy = policy or {}
    return RetryPolicy(
        int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)),
        int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)),
    )


@dataclass(frozen=True)
class RuleDefinition:
    """One target of a rule on a bus: a function's `EventBridgeRule` event, or one target of an
    `AWS::Events::Rule` that is a function or a queue."""

    name: str  # "<Function>.<EventName>", or "<Rule>.<TargetId>" for an AWS::Events::Rule
    bus: str
    pattern: str  # the event pattern, JSON
    target: str  # the target's logical id
    target_kind: str  # "function" or "queue"
    retry: RetryPolicy = RetryPolicy()
    dead_letter_queue: str | None = None


def _bus_of(props: Mapping[str, Any]) -> str:
    return logical_id(props.get("EventBusName")) or str(props.get("EventBusName", "default"))


def rule_definitions(doc: Mapping[str, Any] | None = None) -> list[RuleDefinition]:
    """Every EventBridgeRule event of the template's functions, with its function as target, and
    every target of every enabled AWS::Events::Rule that is a function or a queue of the template."""
    doc = doc or load()
    resources = doc["Resources"]
    found = []
    for name, resource in of_type(doc, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "EventBridgeRule":
                continue
            props = event["Properties"]
            found.append(
                RuleDefinition(
                    name=f"{name}.{event_name}",
                    bus=_bus_of(props),
                    pattern=_pattern_text(props.get("Pattern")),
                    target=name,
                    target_kind="function",
                    retry=_retry_policy(props.get("RetryPolicy")),
                )
            )
    kinds = {"AWS::SQS::Queue": "queue", "AWS::Serverless::Function": "function"}
    for name, resource in of_type(doc, "AWS::Events::Rule").items():
        props = resource.get("Properties", {})
        if str(props.get("State", "ENABLED")) != "ENABLED":
            continue
        if "EventPattern" not in props:
            LOG.warning("rule %s: no EventPattern (a schedule?); not run locally", name)
            continue
        for target in props.get("Targets", []):
            target_id = logical_id(target.get("Arn"))
            kind = kinds.get(resources.get(target_id, {}).get("Type"))
            if kind is None:
                LOG.warning("rule %s: target %s is not a queue or a function; not run locally", name, target.get("Id"))
                continue
            if {"Input", "InputPath", "InputTransformer"} & set(target):
                LOG.warning(
                    "rule %s: target %s transforms its input; the local runtime sends the event", name, target_id
                )
            found.append(
                RuleDefinition(
                    name=f"{name}.{target.get('Id', target_id)}",
                    bus=_bus_of(props),
                    pattern=_pattern_text(props["EventPattern"]),
                    target=str(target_id),
                    target_kind=kind,
                    retry=_retry_policy(target.get("RetryPolicy")),
                    dead_letter_queue=logical_id(target.get("DeadLetterConfig", {}).get("Arn")),
                )
            )
    return found


@dataclass(frozen=True)
class QueueDefinition:
    name: str
    visibility_timeout_seconds: int
    dead_letter_queue: str | None
    max_receive_count: int | None


def queue_definitions(doc: Mapping[str, Any] | None = None) -> list[QueueDefinition]:
    """Every AWS::SQS::Queue of the template, with its visibility timeout and redrive policy."""
    doc = doc or load()
    found = []
    for name, resource in of_type(doc, "AWS::SQS::Queue").items():
        props = resource.get("Properties") or {}
        if props.get("FifoQueue"):
            LOG.warning("queue %s: FIFO ordering is not emulated locally", name)
        redrive = props.get("RedrivePolicy") or {}
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        dead_letter = logical_id(redrive.get("deadLetterTargetArn"))
        found.append(
            QueueDefinition(
                name=name,
                visibility_timeout_seconds=int(props.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_SECONDS)),
                dead_letter_queue=dead_letter,
                max_receive_count=int(redrive["maxReceiveCount"]) if dead_letter else None,
            )
        )
    return found


@dataclass(frozen=True)
class SqsEventSourceDefinition:
    name: str  # "<Function>.<EventName>"
    function: str
    queue: str
    batch_size: int
    batching_window_seconds: float
    report_batch_item_failures: bool


def sqs_event_source_definitions(doc: Mapping[str, Any] | None = None) -> list[SqsEventSourceDefinition]:
    """Every enabled SQS event of the template's functions."""
    doc = doc or load()
    found = []
    for name, resource in of_type(doc, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            if props.get("Enabled", True) is False:
                continue
            queue = logical_id(props.get("Queue"))
            if doc["Resources"].get(queue, {}).get("Type") != "AWS::SQS::Queue":
                LOG.warning("%s.%s: the queue is not one of the template's; not run locally", name, event_name)
                continue
            found.append(
                SqsEventSourceDefinition(
                    name=f"{name}.{event_name}",
                    function=name,
                    queue=str(queue),
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
            )
    return found


# ---------------------------------------------------------------------------------------------
# The HTTP API: its routes and Lambda authorizers, as the local gateway (`api`) serves them.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizerDefinition:
    """A Lambda authorizer of an HTTP API (payload 2.0, simple responses)."""

    name: str
    function: str
    identity_headers: tuple[str, ...]  # lower case
    cache_seconds: int  # ReauthorizeEvery; 0: every request is authorized anew


@dataclass(frozen=True)
class RouteDefinition:
    """An HttpApi event of a function: `METHOD /path/{parameter}`, and the authorizer it runs."""

    method: str
    path: str
    function: str
    authorizer: AuthorizerDefinition | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _authorizer_function(arn: Any) -> str:
    """The logical id in an authorizer's `FunctionArn` (`!GetAtt F.Arn`, `!Sub "${F.Arn}:alias"`)."""
    text = arn.get("Fn::Sub", "") if isinstance(arn, Mapping) else ""
    found = re.search(r"\$\{(\w+)\.Arn\}", text if isinstance(text, str) else "")
    name = found.group(1) if found else logical_id(arn)
    if name is None:
        raise ValueError(f"an authorizer's FunctionArn names no function of the template: {arn!r}")
    return name


def http_routes(doc: Mapping[str, Any] | None = None) -> list[RouteDefinition]:
    """Every HttpApi event of the template's functions, with the authorizer it runs."""
    doc = doc or load()
    apis = of_type(doc, "AWS::Serverless::HttpApi")
    authorizers: dict[str, dict[str, AuthorizerDefinition]] = {}
    defaults: dict[str, str | None] = {}
    for api_id, api in apis.items():
        auth = api["Properties"].get("Auth") or {}
        defaults[api_id] = auth.get("DefaultAuthorizer")
        authorizers[api_id] = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            if "FunctionArn" not in spec:
                continue  # a JWT authorizer: not emulated
            identity = spec.get("Identity") or {}
            authorizers[api_id][name] = AuthorizerDefinition(
                name=name,
                function=_authorizer_function(spec["FunctionArn"]),
                identity_headers=tuple(h.lower() for h in identity.get("Headers") or ()),
                cache_seconds=int(identity.get("ReauthorizeEvery") or 0),
            )
    routes = []
    for function, resource in of_type(doc, "AWS::Serverless::Function").items():
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event["Properties"]
            api_id = logical_id(props.get("ApiId")) or next(iter(apis), "")
            name = (props.get("Auth") or {}).get("Authorizer") or defaults.get(api_id)
            authorizer = None if name in (None, "NONE") else authorizers[api_id][name]
            routes.append(RouteDefinition(str(props["Method"]).upper(), str(props["Path"]), function, authorizer))
    return sorted(routes, key=lambda r: (r.path, r.method))
