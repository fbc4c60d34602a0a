"""The event parts of template.yaml as `local_runtime.template` reads them: the pipe, the rules, the
queues and the SQS event source the local runtime builds its stand-ins from."""

from __future__ import annotations

from moto.events.models import EventPattern

from local_runtime import template
from local_runtime.template import QueueDefinition, RetryPolicy, RuleDefinition, SqsEventSourceDefinition
from tests.support.lambda_events import sample


def test_logical_id_of_a_ref_and_of_a_get_att() -> None:
    assert template.logical_id({"Ref": "Bus"}) == "Bus"
    assert template.logical_id({"Fn::GetAtt": ["Queue", "Arn"]}) == "Queue"
    assert template.logical_id({"Fn::GetAtt": "Queue.Arn"}) == "Queue"
    assert template.logical_id("arn:aws:sqs:us-east-1:1:q") is None


def test_the_pipe_puts_only_inserts_on_the_bus() -> None:
    (pipe,) = template.pipe_definitions()
    assert (pipe.table, pipe.bus, pipe.source, pipe.detail_type) == (
        "OrdersTable",
        "ShopEventBus",
        "shop.orders",
        "OrderCompleted",
    )
    filters = [EventPattern.load(pattern) for pattern in pipe.filters]
    insert = sample("sales_counter.json")["detail"]
    assert any(f.matches_event(insert) for f in filters)
    assert not any(f.matches_event({**insert, "eventName": "MODIFY"}) for f in filters)
    assert not any(f.matches_event({**insert, "eventName": "REMOVE"}) for f in filters)


def test_order_completed_goes_to_the_sales_counter_and_to_the_data_platform_queue() -> None:
    assert template.event_buses() == ["ShopEventBus"]
    found = {rule.name: rule for rule in template.rule_definitions()}
    assert set(found) == {"DataPlatformRule.DataPlatformQueue", "SalesCounterFunction.OrderCompleted"}
    to_queue = found["DataPlatformRule.DataPlatformQueue"]
    assert (to_queue.bus, to_queue.target, to_queue.target_kind) == ("ShopEventBus", "DataPlatformQueue", "queue")
    assert to_queue.retry == RetryPolicy(185, 86_400)
    assert to_queue.dead_letter_queue == "DataPlatformRuleDeadLetterQueue"
    counter = found["SalesCounterFunction.OrderCompleted"]
    assert (counter.target, counter.target_kind) == ("SalesCounterFunction", "function")
    for rule in found.values():
        assert EventPattern.load(rule.pattern).matches_event(sample("sales_counter.json"))


def test_queues_and_their_redrive_policies() -> None:
    queues = {q.name: q for q in template.queue_definitions()}
    assert queues["DataPlatformQueue"] == QueueDefinition("DataPlatformQueue", 180, "DataPlatformDeadLetterQueue", 480)
    assert queues["DataPlatformDeadLetterQueue"].dead_letter_queue is None
    assert queues["DataPlatformRuleDeadLetterQueue"].dead_letter_queue is None


def test_the_forwarder_reads_the_data_platform_queue() -> None:
    (source,) = template.sqs_event_source_definitions()
    assert source == SqsEventSourceDefinition(
        "DataPlatformForwarderFunction.OrderCompleted",
        "DataPlatformForwarderFunction",
        "DataPlatformQueue",
        batch_size=5,
        batching_window_seconds=1.0,
        report_batch_item_failures=True,
    )


def test_a_rule_target_that_is_neither_a_queue_nor_a_function_is_left_out() -> None:
    doc = {
        "Resources": {
            "Bus": {"Type": "AWS::Events::EventBus"},
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Off": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "State": "DISABLED",
                    "EventPattern": {},
                    "Targets": [{"Id": "Q", "Arn": {"Ref": "Queue"}}],
                },
            },
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["x"]},
                    "Targets": [
                        {"Id": "T", "Arn": {"Ref": "Topic"}},
                        {"Id": "Q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}},
                    ],
                },
            },
        }
    }
    assert template.rule_definitions(doc) == [
        RuleDefinition("Rule.Q", "Bus", '{"source": ["x"]}', "Queue", "queue", RetryPolicy(), None)
    ]
