"""What makes the template operable, checked on the CloudFormation template SAM makes of it (SAM's
translator, offline) for each stage: the stages' conditions, the tables kept and recoverable, the
queues encrypted, every log group kept for the stage's retention, and an alarm, with its runbook
section and the one topic, for every way the shop is watched to fail."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest

from local_runtime import template
from tests.support.cloudformation import Stack, logical_id

STAGES = ("dev", "prod")
RUNBOOK = template.ROOT / "docs" / "runbook.md"
# The tables that hold money, orders, coupons or the catalogue: kept whatever happens to the stack.
KEPT_TABLES = {"BalancesTable", "LedgerTable", "OrdersTable", "CouponsTable", "IssuedCouponsTable", "ProductsTable"}
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}  # README, "Operating it"
TREAT_MISSING_DATA = {"breaching", "notBreaching", "ignore", "missing"}


@pytest.fixture(scope="module", params=STAGES)
def stack(request: pytest.FixtureRequest) -> Stack:
    return Stack(request.param)


def stage_of(stack: Stack) -> str:
    return stack.parameters["Stage"]


def alarms(stack: Stack) -> dict[str, dict[str, Any]]:
    return {name: stack.properties(name) for name in stack.of_type("AWS::CloudWatch::Alarm")}


def dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def alarms_on(stack: Stack, namespace: str, metric: str) -> list[dict[str, Any]]:
    """The single-metric alarms on one metric."""
    return [a for a in alarms(stack).values() if a.get("Namespace") == namespace and a.get("MetricName") == metric]


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def function_of(stack: Stack, reference: Any) -> str | None:
    """The function a reference names: the function itself, or the function of an alias of it
    (SAM points event sources at the alias `live`)."""
    target = logical_id(reference)
    if target and stack.doc["Resources"][target]["Type"] == "AWS::Lambda::Alias":
        return logical_id(stack.properties(target)["FunctionName"])
    return target


# Properties that name a resource once per account and region: two stages' stacks side by side
# (dev and prod in one account) must not ask for the same name.
ACCOUNT_WIDE_NAMES = {
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Pipes::Pipe": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
}


def test_every_name_given_to_a_resource_is_the_stacks_own(stack: Stack) -> None:
    """A name given must come from the stack's name or a generated resource's, never a constant."""
    fixed = {
        resource: name
        for kind, prop in ACCOUNT_WIDE_NAMES.items()
        for resource in stack.of_type(kind)
        if isinstance(name := stack.properties(resource).get(prop), str)
    }
    assert not fixed, f"named alike in every stage's stack: {fixed}"
    schedule = stack.properties("LedgerReconciliationFunctionDaily")["Name"]
    assert "${AWS::StackName}" in json.dumps(schedule)


# ---------------------------------------------------------------------------------------- stages


def test_the_stage_parameter_takes_dev_and_prod_and_defaults_to_dev() -> None:
    stage = template.load()["Parameters"]["Stage"]
    assert sorted(stage["AllowedValues"]) == ["dev", "prod"]
    assert stage["Default"] == "dev"


def test_is_prod_holds_in_prod_only() -> None:
    assert Stack("prod").conditions["IsProd"] is True
    assert Stack("dev").conditions["IsProd"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_an_alarm_email_is_subscribed_only_when_given(stage: str) -> None:
    assert not Stack(stage).of_type("AWS::SNS::Subscription")
    with_email = Stack(stage, AlarmEmail="oncall@example.com")
    (subscription,) = with_email.of_type("AWS::SNS::Subscription")
    props = with_email.properties(subscription)
    assert props["Protocol"] == "email"
    assert props["Endpoint"] == "oncall@example.com"
    assert props["TopicArn"] == ref("AlarmTopic")


def test_samconfig_has_an_environment_per_stage_and_keeps_default() -> None:

    config = tomllib.loads((template.ROOT / "samconfig.toml").read_text())
    assert config["default"]["global"]["parameters"]["stack_name"] == "shop-core"
    names = set()
    for stage in STAGES:
        names.add(config[stage]["global"]["parameters"]["stack_name"])
        overrides = config[stage]["deploy"]["parameters"]["parameter_overrides"]
        assert f'Stage="{stage}"' in overrides, overrides
    assert len(names) == len(STAGES), "each stage deploys a stack of its own"


# ---------------------------------------------------------------------------------------- data


def test_the_tables_kept_are_the_templates_tables(stack: Stack) -> None:
    assert set(stack.of_type("AWS::DynamoDB::Table")) >= KEPT_TABLES


@pytest.mark.parametrize("table", sorted(KEPT_TABLES))
def test_a_table_of_money_orders_or_coupons_is_kept_protected_and_recoverable(stack: Stack, table: str) -> None:
    resource = stack.doc["Resources"][table]
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"
    props = stack.properties(table)
    assert props.get("DeletionProtectionEnabled") is (stage_of(stack) == "prod")
    assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True


def test_a_table_not_kept_says_why_in_the_template(stack: Stack) -> None:
    text = template.TEMPLATE.read_text()
    for table, resource in stack.of_type("AWS::DynamoDB::Table").items():
        recoverable = stack.properties(table).get("PointInTimeRecoverySpecification", {})
        if resource.get("DeletionPolicy") == "Retain" and recoverable.get("PointInTimeRecoveryEnabled"):
            continue
        comment = re.search(rf"((?:^  #.*\n)+)  {table}:\n", text, re.MULTILINE)
        reason = comment.group(1) if comment else ""
        assert re.search(r"(Not|Neither) retained", reason), f"{table} is not kept: a comment above it says why"


def test_every_queue_is_encrypted(stack: Stack) -> None:
    queues = stack.of_type("AWS::SQS::Queue")
    assert queues
    for name in queues:
        props = stack.properties(name)
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name


# ---------------------------------------------------------------------------------------- logs


def log_groups_by_name(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every log group by its LogGroupName as written ({'Fn::Sub': ...} or text)."""
    return {
        json.dumps(stack.properties(name)["LogGroupName"], sort_keys=True): stack.properties(name)
        for name in stack.of_type("AWS::Logs::LogGroup")
    }


def test_every_function_has_its_log_group_with_the_stages_retention(stack: Stack) -> None:
    groups = log_groups_by_name(stack)
    functions = stack.of_type("AWS::Lambda::Function")
    assert functions
    for function in functions:
        props = stack.properties(function)
        custom = props.get("LoggingConfig", {}).get("LogGroup")
        if custom is not None:
            (group,) = [g for g in stack.of_type("AWS::Logs::LogGroup") if ref(g) == custom]
            group_props = stack.properties(group)
        else:
            name = json.dumps({"Fn::Sub": f"/aws/lambda/${{{function}}}"}, sort_keys=True)
            assert name in groups, f"{function}: no log group named /aws/lambda/<its name>"
            group_props = groups[name]
        assert group_props.get("RetentionInDays") == LOG_RETENTION_DAYS[stage_of(stack)], function
        assert "KmsKeyId" in group_props, function


def test_the_http_api_writes_a_json_access_log_to_a_kept_log_group(stack: Stack) -> None:
    (stage,) = stack.of_type("AWS::ApiGatewayV2::Stage")
    settings = stack.properties(stage)["AccessLogSettings"]
    group = logical_id(settings["DestinationArn"])
    assert stack.doc["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    assert stack.properties(str(group))["RetentionInDays"] == LOG_RETENTION_DAYS[stage_of(stack)]
    fields = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", settings["Format"]))
    for field in ("requestId", "routeKey", "status", "responseLatency", "integrationErrorMessage", "ip"):
        assert field in fields, field
    assert "$context.authorizer.error" in settings["Format"]


# ---------------------------------------------------------------------------------------- alarms


def test_every_alarm_names_an_existing_runbook_section_and_treats_missing_data(stack: Stack) -> None:
    sections = {s.lower() for s in re.findall(r"^### (\w+)\s*$", RUNBOOK.read_text(), re.MULTILINE)}
    found = alarms(stack)
    assert found
    for name, alarm in found.items():
        link = re.search(r"Runbook: docs/runbook\.md#(\S+)$", alarm.get("AlarmDescription", ""))
        assert link and link.group(1) == name.lower(), f"{name}: its description does not name its section"
        assert link.group(1) in sections, f"{name}: no section #{link.group(1)} in docs/runbook.md"
        assert alarm.get("TreatMissingData") in TREAT_MISSING_DATA, name


def test_every_alarm_notifies_the_one_encrypted_topic(stack: Stack) -> None:
    (topic,) = stack.of_type("AWS::SNS::Topic")
    assert stack.properties(topic).get("KmsMasterKeyId")
    for name, alarm in alarms(stack).items():
        assert alarm.get("ActionsEnabled", True) is True, name
        assert alarm.get("AlarmActions") == [ref(topic)], name
        assert alarm.get("OKActions", [ref(topic)]) == [ref(topic)], name
        assert not alarm.get("InsufficientDataActions"), name


def test_the_key_of_the_topic_lets_cloudwatch_publish(stack: Stack) -> None:
    (topic,) = stack.of_type("AWS::SNS::Topic")
    key = logical_id(stack.properties(topic)["KmsMasterKeyId"])
    statements = stack.properties(str(key))["KeyPolicy"]["Statement"]
    assert any(
        s["Effect"] == "Allow"
        and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(s["Action"])
        for s in statements
    )


@pytest.mark.parametrize("metric", ["Errors", "Throttles", "Duration"])
def test_every_function_has_its_alarms(stack: Stack, metric: str) -> None:
    watched = {logical_id(dimensions(a).get("FunctionName")): a for a in alarms_on(stack, "AWS/Lambda", metric)}
    for function in stack.of_type("AWS::Lambda::Function"):
        assert function in watched, f"{function} has no {metric} alarm"
        if metric == "Duration":
            timeout_ms = int(stack.properties(function).get("Timeout", 3)) * 1000
            threshold = watched[function]["Threshold"]
            assert 0.5 * timeout_ms <= threshold < timeout_ms, f"{function}: {threshold} ms of {timeout_ms}"


def dead_letter_queues(stack: Stack) -> set[str]:
    """Every queue something sends what it gave up on to: a queue's redrive policy, a rule
    target's or a pipe's dead-letter config, a function's on-failure destination."""
    found: set[str | None] = set()
    for name in stack.of_type("AWS::SQS::Queue"):
        redrive = stack.properties(name).get("RedrivePolicy") or {}
        found.add(logical_id(redrive.get("deadLetterTargetArn")))
    for name in stack.of_type("AWS::Events::Rule"):
        for target in stack.properties(name).get("Targets", []):
            found.add(logical_id(target.get("DeadLetterConfig", {}).get("Arn")))
    for name in stack.of_type("AWS::Pipes::Pipe"):
        for source in stack.properties(name).get("SourceParameters", {}).values():
            found.add(logical_id(source.get("DeadLetterConfig", {}).get("Arn")) if isinstance(source, dict) else None)
    for name in stack.of_type("AWS::Lambda::EventInvokeConfig"):
        destination = stack.properties(name).get("DestinationConfig", {}).get("OnFailure", {})
        found.add(logical_id(destination.get("Destination")))
    return {q for q in found if q is not None and stack.doc["Resources"][q]["Type"] == "AWS::SQS::Queue"}


def test_every_dead_letter_queue_alarms_on_a_message(stack: Stack) -> None:
    queues = dead_letter_queues(stack)
    assert len(queues) >= 3, queues  # the data platform queue's, its rule's, the pipe's at least
    watched = {
        logical_id(dimensions(a)["QueueName"]): a
        for a in alarms_on(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    }
    for queue in queues:
        assert queue in watched, f"{queue} has no alarm"
        assert (watched[queue]["ComparisonOperator"], watched[queue]["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_data_platform_queue_alarms_on_its_oldest_message(stack: Stack) -> None:
    (alarm,) = alarms_on(stack, "AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert dimensions(alarm)["QueueName"] == {"Fn::GetAtt": ["DataPlatformQueue", "QueueName"]}
    assert alarm["Threshold"] < stack.properties("DataPlatformQueue")["MessageRetentionPeriod"]


def test_the_http_api_alarms_on_its_5xx_rate_and_its_latency(stack: Stack) -> None:
    (api,) = stack.of_type("AWS::ApiGatewayV2::Api")
    rate = [
        a
        for a in alarms(stack).values()
        if {m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in a.get("Metrics", [])}
        >= {"5xx", "Count"}
    ]
    assert len(rate) == 1
    for query in rate[0]["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            assert metric["Namespace"] == "AWS/ApiGateway"
            assert dimensions(metric) == {"ApiId": ref(api)}
    (expression,) = [q for q in rate[0]["Metrics"] if q.get("ReturnData")]
    assert "/" in expression["Expression"]
    (latency,) = alarms_on(stack, "AWS/ApiGateway", "Latency")
    assert latency["ExtendedStatistic"] == "p99"
    assert dimensions(latency) == {"ApiId": ref(api)}


@pytest.mark.parametrize("metric", ["ExecutionFailed", "TargetStageFailed"])
def test_every_pipe_alarms_on_its_failures(stack: Stack, metric: str) -> None:
    watched = {logical_id(dimensions(a)["PipeName"]) for a in alarms_on(stack, "AWS/EventBridge/Pipes", metric)}
    pipes = set(stack.of_type("AWS::Pipes::Pipe"))
    assert pipes and pipes <= watched


def test_every_rule_alarms_on_failed_invocations(stack: Stack) -> None:
    watched = [dimensions(a) for a in alarms_on(stack, "AWS/Events", "FailedInvocations")]
    rules = stack.of_type("AWS::Events::Rule")
    assert rules
    for name in rules:
        props = stack.properties(name)
        assert "Name" in props, f"{name} has no Name, which its alarm's RuleName dimension needs"
        expected = {"EventBusName": props["EventBusName"], "RuleName": props["Name"]}
        assert expected in watched, f"{name} has no FailedInvocations alarm"


@pytest.mark.parametrize("metric", ["ThrottledRequests", "SystemErrors"])
def test_every_table_alarms_on_throttles_and_system_errors(stack: Stack, metric: str) -> None:
    queries = [q for a in alarms(stack).values() for q in a.get("Metrics", []) if q.get("ReturnData")]
    for table in stack.of_type("AWS::DynamoDB::Table"):
        matching = [
            q
            for q in queries
            if isinstance(q.get("Expression"), dict)
            and f"SUM({metric})" in q["Expression"]["Fn::Sub"]
            and f"TableName = '${{{table}}}'" in q["Expression"]["Fn::Sub"]
        ]
        assert len(matching) == 1, f"{table}: {len(matching)} {metric} alarms"
        assert 'SCHEMA("AWS/DynamoDB", Operation, TableName)' in matching[0]["Expression"]["Fn::Sub"]


def test_outcome_unknown_alarms_in_the_namespace_the_code_emits_to(stack: Stack) -> None:
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    (alarm,) = alarms_on(stack, variables["POWERTOOLS_METRICS_NAMESPACE"], "OutcomeUnknown")
    assert dimensions(alarm) == {"service": variables["POWERTOOLS_SERVICE_NAME"]}
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    emitted = (template.ROOT / "layers" / "common" / "shop" / "api" / "errors.py").read_text()
    assert 'add_metric(name="OutcomeUnknown"' in emitted


def test_the_forwarder_is_reserved_at_least_what_its_queue_may_run(stack: Stack) -> None:
    reserved = stack.properties("DataPlatformForwarderFunction")["ReservedConcurrentExecutions"]
    (mapping,) = [
        stack.properties(m)
        for m in stack.of_type("AWS::Lambda::EventSourceMapping")
        if function_of(stack, stack.properties(m)["FunctionName"]) == "DataPlatformForwarderFunction"
    ]
    assert reserved >= mapping["ScalingConfig"]["MaximumConcurrency"]
