"""sqs:sendMessage, sns:publish, aws-sdk:* (boto3 against a local fake AWS) and events:putEvents.

The AWS side is tests/services/fake_aws.py, started on 127.0.0.1 in each test: boto3 signs and
sends real SQS (JSON 1.0), SNS (Query/XML) and DynamoDB requests to it. moto was not used so
the suite needs nothing beyond the project's test extra.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runtime.integrations.config import IntegrationConfig
from runtime.transport.memory import MemoryTransport
from tests.services.fake_aws import FakeAws
from tests.services.harness import Runtime, runtime
from tests.services.servers import closed_port, serve_app

SQS = "arn:aws:states:::sqs:sendMessage"
SNS = "arn:aws:states:::sns:publish"
EVENTS = "arn:aws:states:::events:putEvents"


def task(resource: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **extra}
        },
    }


@pytest.fixture
async def aws() -> AsyncIterator[tuple[FakeAws, Runtime]]:
    fake = FakeAws()
    async with serve_app(fake.app()) as url:
        fake.base_url = url
        config = IntegrationConfig.from_env({"STATEHOP_AWS_ENDPOINT_URL": url})
        async with runtime(integrations=config) as rt:
            yield fake, rt


# ------------------------------------------------------------------ SQS


async def test_sqs_send_message_returns_aws_shape(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    url = fake.add_queue("orders")
    result = await rt.run(
        task(SQS, {"QueueUrl": url, "MessageBody": {"orderId.$": "$.orderId", "total": 12.5}}),
        {"orderId": "o-1"},
    )
    assert result.status == "SUCCEEDED", result
    body = '{"orderId":"o-1","total":12.5}'
    assert set(result.output) == {"MessageId", "MD5OfMessageBody"}
    assert result.output["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert [m["Body"] for m in fake.queues[url]] == [body]


async def test_sqs_string_body_is_sent_as_is(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    url = fake.add_queue("plain")
    result = await rt.run(task(SQS, {"QueueUrl": url, "MessageBody": "hello"}))
    assert result.status == "SUCCEEDED"
    assert fake.queues[url][0]["Body"] == "hello"


async def test_sqs_missing_queue_fails_as_step_functions_names_it(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    result = await rt.run(task(SQS, {"QueueUrl": fake.queue_url("nope"), "MessageBody": "x"}))
    assert result.status == "FAILED"
    assert result.error == "SQS.AmazonSQSException"
    assert "Error Code: QueueDoesNotExist" in (result.cause or "")
    assert "Service: AmazonSQS" in (result.cause or "")


async def test_sqs_wait_for_task_token_completes_on_send_task_success(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    url = fake.add_queue("approvals")
    definition = task(
        SQS + ".waitForTaskToken",
        {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
    )
    arn = await rt.start(await rt.create(definition), {"order": "o-9"})
    for _ in range(200):  # the built-in sends the message; the execution keeps waiting
        if fake.queues[url]:
            break
        await rt.transport.drain(5)
    message = json.loads(fake.queues[url][0]["Body"])
    assert message["order"] == "o-9"
    async with rt.store.transaction() as tx:
        assert str((await tx.get_execution(arn)).status) == "RUNNING"
    assert await rt.engine.answer_task(message["token"], "success", b'{"approved": true}', callback=True)
    result = await rt.wait(arn)
    assert result.status == "SUCCEEDED" and result.output == {"approved": True}


async def test_sqs_unknown_parameter_is_rejected(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    result = await rt.run(task(SQS, {"QueueUrl": fake.add_queue("q"), "MessageBody": "x", "Bogus": 1}))
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "Bogus" in (result.cause or "")


async def test_sqs_unreachable_endpoint_is_an_sdk_client_exception() -> None:
    config = IntegrationConfig.from_env(
        {"STATEHOP_AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{closed_port()}"}
    )
    async with runtime(integrations=config) as rt:
        result = await rt.run(task(SQS, {"QueueUrl": "http://127.0.0.1/1/q", "MessageBody": "x"}))
    assert result.status == "FAILED" and result.error == "SQS.SdkClientException"


async def test_without_an_endpoint_nothing_goes_to_aws() -> None:
    async with runtime(integrations=IntegrationConfig()) as rt:
        result = await rt.run(
            task(SQS, {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q", "MessageBody": "x"})
        )
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "STATEHOP_AWS_ENDPOINT_URL" in (result.cause or "")


async def test_sync_pattern_is_not_supported_by_sqs(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    result = await rt.run(task(SQS + ".sync", {"QueueUrl": fake.add_queue("q"), "MessageBody": "x"}))
    assert result.status == "FAILED" and result.error == "States.Runtime"


# ------------------------------------------------------------------ SNS


async def test_sns_publish(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    topic = fake.add_topic("order-events")
    result = await rt.run(
        task(SNS, {"TopicArn": topic, "Message": {"orderId.$": "$.id"}, "Subject": "Order placed"}),
        {"id": "o-3"},
    )
    assert result.status == "SUCCEEDED", result
    assert set(result.output) == {"MessageId"}
    published = fake.topics[topic][0]
    assert published["Message"] == '{"orderId":"o-3"}' and published["Subject"] == "Order placed"
    assert published["MessageId"] == result.output["MessageId"]


async def test_sns_missing_topic(aws: tuple[FakeAws, Runtime]) -> None:
    _, rt = aws
    result = await rt.run(task(SNS, {"TopicArn": "arn:aws:sns:us-east-1:123456789012:none", "Message": "x"}))
    assert result.status == "FAILED" and result.error == "SNS.AmazonSNSException"
    assert "Error Code: NotFound" in (result.cause or "")


# ------------------------------------------------------------------ aws-sdk:*


async def test_aws_sdk_dynamodb_put_then_get(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    fake.tables["orders"] = {}
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}, "total": {"N": "12"}}},
                "ResultPath": None,
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                "End": True,
            },
        },
    }
    result = await rt.run(definition, {"id": "o-5"})
    assert result.status == "SUCCEEDED", result
    assert result.output == {"Item": {"id": {"S": "o-5"}, "total": {"N": "12"}}}
    assert fake.requests == ["dynamodb:PutItem", "dynamodb:GetItem"]


async def test_aws_sdk_error_names_are_service_dot_exception(aws: tuple[FakeAws, Runtime]) -> None:
    _, rt = aws
    definition = task(
        "arn:aws:states:::aws-sdk:dynamodb:getItem",
        {"TableName": "missing", "Key": {"id": {"S": "x"}}},
        Catch=[
            {"ErrorEquals": ["DynamoDb.ResourceNotFoundException"], "ResultPath": "$.err", "Next": "Handled"}
        ],
    )
    definition["States"]["Call"].pop("End")
    definition["States"]["Call"]["Next"] = "Handled"
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    result = await rt.run(definition, {})
    assert result.status == "SUCCEEDED", result
    assert result.output["err"]["Error"] == "DynamoDb.ResourceNotFoundException"


async def test_aws_sdk_sqs_through_the_generic_path(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    result = await rt.run(task("arn:aws:states:::aws-sdk:sqs:createQueue", {"QueueName": "made-by-sdk"}))
    assert result.status == "SUCCEEDED", result
    assert result.output == {"QueueUrl": fake.queue_url("made-by-sdk")}


async def test_aws_sdk_unknown_service_or_action(aws: tuple[FakeAws, Runtime]) -> None:
    _, rt = aws
    bad_service = await rt.run(task("arn:aws:states:::aws-sdk:nosuchservice:doIt", {}))
    assert bad_service.error == "States.Runtime" and "nosuchservice" in (bad_service.cause or "")
    bad_action = await rt.run(task("arn:aws:states:::aws-sdk:sqs:teleportQueue", {}))
    assert bad_action.error == "States.Runtime" and "teleport_queue" in (bad_action.cause or "")


def test_endpoint_configuration_from_env() -> None:
    config = IntegrationConfig.from_env(
        {
            "STATEHOP_AWS_ENDPOINT_URL": "http://all:1",
            "STATEHOP_AWS_ENDPOINT_URL_SQS": "http://sqs:2",
            "STATEHOP_AWS_ENDPOINTS": '{"sns": "http://sns:3"}',
            "STATEHOP_REGION": "eu-west-1",
        }
    )
    assert config.endpoint_for("sqs") == "http://sqs:2"
    assert config.endpoint_for("sns") == "http://sns:3"
    assert config.endpoint_for("dynamodb") == "http://all:1"
    assert config.aws_call_region == "eu-west-1"


# ------------------------------------------------------------------ events:putEvents


async def test_put_events_publishes_eventbridge_envelopes_on_the_events_exchange() -> None:
    async with runtime(integrations=IntegrationConfig(region="eu-west-1", account="111122223333")) as rt:
        await rt.transport.bind_events("captured", "event.com.shop.#")
        await rt.transport.bind_events("other", "event.org.other.#")
        definition = task(
            EVENTS,
            {
                "Entries": [
                    {
                        "Source": "com.shop.orders",
                        "DetailType": "Order Placed",
                        "Detail": {"orderId.$": "$.id"},
                        "Resources": ["arn:aws:shop:order/1"],
                    },
                    {
                        "Source": "com.shop.orders",
                        "DetailType": "Audit",
                        "Detail": '{"n": 1}',
                        "EventBusName": "audit",
                    },
                ]
            },
        )
        arn = await rt.start(await rt.create(definition, "publisher"), {"id": "o-8"})
        result = await rt.wait(arn)
        assert result.status == "SUCCEEDED", result
        assert result.output["FailedEntryCount"] == 0
        ids = [e["EventId"] for e in result.output["Entries"]]
        assert isinstance(rt.transport, MemoryTransport)
        messages = rt.transport.take("captured")
        assert rt.transport.take("other") == []
    events = [orjson.loads(m.body) for m in messages]
    assert [e["id"] for e in events] == ids
    first = events[0]
    assert first["detail-type"] == "Order Placed" and first["source"] == "com.shop.orders"
    assert first["detail"] == {"orderId": "o-8"}
    assert first["account"] == "111122223333" and first["region"] == "eu-west-1"
    assert first["resources"][0] == "arn:aws:shop:order/1"
    assert arn in first["resources"] and any(":stateMachine:publisher" in r for r in first["resources"])
    assert events[1]["detail"] == {"n": 1}
    assert [m.headers["x-sh-event-bus"] for m in messages] == ["default", "audit"]


async def test_put_events_failed_entry_fails_the_task() -> None:
    async with runtime() as rt:
        result = await rt.run(
            task(EVENTS, {"Entries": [{"Source": "s", "DetailType": "d", "Detail": {}}, {"Source": "s"}]})
        )
    assert result.status == "FAILED" and result.error == "EventBridge.FailedEntry"
    response = json.loads(result.cause or "")
    assert response["FailedEntryCount"] == 1
    assert "EventId" in response["Entries"][0] and response["Entries"][1]["ErrorCode"] == "InvalidArgument"


async def test_optimized_dynamodb_integration(aws: tuple[FakeAws, Runtime]) -> None:
    fake, rt = aws
    fake.tables["orders"] = {}
    put = await rt.run(
        task("arn:aws:states:::dynamodb:putItem", {"TableName": "orders", "Item": {"id": {"S": "o-1"}}})
    )
    assert put.status == "SUCCEEDED" and put.output == {}
    got = await rt.run(
        task("arn:aws:states:::dynamodb:getItem", {"TableName": "orders", "Key": {"id": {"S": "o-1"}}})
    )
    assert got.output == {"Item": {"id": {"S": "o-1"}}}
    missing = await rt.run(task("arn:aws:states:::dynamodb:getItem", {"TableName": "nope", "Key": {}}))
    assert missing.error == "DynamoDB.ResourceNotFoundException"


async def test_unsupported_integration(aws: tuple[FakeAws, Runtime]) -> None:
    _, rt = aws
    result = await rt.run(task("arn:aws:states:::glue:startJobRun", {"JobName": "t"}))
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "not supported" in (result.cause or "")
