"""AWS integrations through boto3: ``sqs:sendMessage``, ``sns:publish``, ``dynamodb:*``, ``aws-sdk:*``.

Calls go to the endpoint configured for the service (``STATEHOP_AWS_ENDPOINT_URL``,
``STATEHOP_AWS_ENDPOINT_URL_<SERVICE>``: LocalStack, moto, ElasticMQ, ...), or to AWS itself
only when ``STATEHOP_AWS_USE_AWS=true``. boto3 is blocking, so each call runs in a thread.

Shapes are AWS's: parameters in PascalCase as in the service's API reference, results as the
API returns them without ``ResponseMetadata``. Errors are named as Step Functions names them:

- optimized integrations: ``SQS.AmazonSQSException`` / ``SNS.AmazonSNSException`` for an error
  the service answered, ``SQS.SdkClientException`` / ``SNS.SdkClientException`` when it could
  not be reached; the cause carries the service's error code and message; optimized
  ``dynamodb:getItem|putItem|updateItem|deleteItem``: ``DynamoDB.<ErrorCode>``;
- ``aws-sdk:<service>:<action>``: ``<Service>.<ErrorCode>`` with an ``Exception`` suffix added
  when the code has none (``DynamoDb.ResourceNotFoundException``, ``S3.NoSuchKeyException``),
  ``<Service>.SdkClientException`` when unreachable.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import threading
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

import orjson

from runtime.asl.errors import StatesError
from runtime.engine.resources import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN
from runtime.integrations.base import Call
from runtime.integrations.config import IntegrationConfig

#: Step Functions' aws-sdk service names that differ from boto3's
SERVICE_ALIASES = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "acmpca": "acm-pca",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "lexmodelsv2": "lexv2-models",
    "lexruntimev2": "lexv2-runtime",
    "apigatewayv2": "apigatewayv2",
    "dynamodbstreams": "dynamodbstreams",
    "sesv2": "sesv2",
}

SQS_SEND_PARAMS = {
    "QueueUrl",
    "MessageBody",
    "DelaySeconds",
    "MessageAttributes",
    "MessageSystemAttributes",
    "MessageDeduplicationId",
    "MessageGroupId",
}
SNS_PUBLISH_PARAMS = {
    "TopicArn",
    "TargetArn",
    "PhoneNumber",
    "Message",
    "Subject",
    "MessageStructure",
    "MessageAttributes",
    "MessageDeduplicationId",
    "MessageGroupId",
}


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 ships with the test extra
        raise StatesError(
            "States.Runtime", "AWS integrations need boto3: pip install boto3 (or statehop[test])"
        ) from None
    return boto3


@cache
def _available_services() -> tuple[str, ...]:
    return tuple(_boto3().session.Session().get_available_services())


def boto3_service(name: str) -> str:
    """Step Functions' service name (``dynamodb``, ``sfn``, ``acmpca``) -> boto3's."""
    lowered = name.lower()
    if lowered in SERVICE_ALIASES:
        return SERVICE_ALIASES[lowered]
    services = _available_services()
    if lowered in services:
        return lowered
    for candidate in services:
        if candidate.replace("-", "") == lowered:
            return candidate
    raise StatesError("States.Runtime", f"aws-sdk: unknown AWS service '{name}'")


_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def pascal_service_name(service_id: str) -> str:
    """botocore's serviceId -> the prefix Step Functions uses (``DynamoDB`` -> ``DynamoDb``)."""
    words = [w for part in re.split(r"[\s\-_]+", service_id) for w in _WORDS.findall(part)]
    return "".join(w[:1].upper() + w[1:].lower() for w in words)


class AwsClients:
    """boto3 clients per (service, endpoint, region), created once and shared across threads."""

    def __init__(self, config: IntegrationConfig) -> None:
        self.config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        endpoint = self.config.endpoint_for(service)
        if endpoint is None and not self.config.use_aws:
            env = f"STATEHOP_AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
            raise StatesError(
                "States.Runtime",
                f"No endpoint is configured for AWS service '{service}': set STATEHOP_AWS_ENDPOINT_URL "
                f"(every service) or {env}, or STATEHOP_AWS_USE_AWS=true to call AWS itself",
            )
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._make(service, endpoint)
                self._clients[service] = client
            return client

    def _make(self, service: str, endpoint: str | None) -> Any:
        boto3 = _boto3()
        from botocore.config import Config

        session = boto3.session.Session(region_name=self.config.aws_call_region)
        credentials: dict[str, str] = {}
        if endpoint is not None and session.get_credentials() is None:
            # local fakes accept any key; real AWS would need real ones
            credentials = {"aws_access_key_id": "statehop", "aws_secret_access_key": "statehop"}
        return session.client(
            service,
            endpoint_url=endpoint,
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60
            ),
            **credentials,
        )

    async def call(self, service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call ``operation`` (boto3's snake_case method name) in a thread; AWS-shaped result."""
        client = self.client(service)
        method = getattr(client, operation, None)
        if method is None or operation.startswith("_"):
            raise StatesError("States.Runtime", f"aws-sdk: {service} has no API action '{operation}'")
        response = await asyncio.to_thread(method, **dict(params))
        response = dict(response)
        response.pop("ResponseMetadata", None)
        return _jsonable(response)  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if hasattr(value, "read"):  # a StreamingBody (S3 GetObject Body): text when it is text
        data = value.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(data).decode()
    return value


def _describe(exc: Exception) -> tuple[str, str, int | None, str]:
    """(code, message, http status, request id) of a botocore ClientError."""
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    return (
        str(error.get("Code") or type(exc).__name__),
        str(error.get("Message") or exc),
        meta.get("HTTPStatusCode"),
        str(meta.get("RequestId") or ""),
    )


def _cause(message: str, service: str, code: str, status: int | None, request_id: str) -> str:
    return (
        f"{message} (Service: {service}; Status Code: {status}; Error Code: {code}; Request ID: {request_id})"
    )


async def _guarded(
    clients: AwsClients,
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    service_error: str,
    client_error: str,
    label: str,
    sdk_prefix: str | None = None,
) -> dict[str, Any]:
    """Run a call, naming its failures the Step Functions way."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    try:
        return await clients.call(service, operation, params)
    except ParamValidationError as exc:
        raise StatesError("States.Runtime", f"{label}: invalid parameters: {exc}") from None
    except ClientError as exc:
        code, message, status, request_id = _describe(exc)
        error = service_error
        if sdk_prefix is not None:
            error = f"{sdk_prefix}.{code if code.endswith('Exception') else code + 'Exception'}"
        raise StatesError(error, _cause(message, label, code, status, request_id)) from None
    except BotoCoreError as exc:
        raise StatesError(client_error, f"{type(exc).__name__}: {exc}") from None


def _clients(call: Call) -> AwsClients:
    """The clients shared by every call of one BuiltinService (created on first use)."""
    clients = call.shared.get("aws")
    if clients is None or clients.config is not call.config:
        clients = call.shared["aws"] = AwsClients(call.config)
    return clients


def _check_pattern(call: Call, allowed: set[str]) -> None:
    if call.pattern not in allowed:
        raise StatesError(
            "States.Runtime",
            f"'{call.resource}': the {call.pattern} pattern is not supported by {call.action}",
        )


def _params(params: Any, allowed: set[str], label: str) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise StatesError("States.Runtime", f"{label} needs an object of Parameters")
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise StatesError(
            "States.Runtime", f"{label}: unsupported parameters {unknown}; use {sorted(allowed)}"
        )
    return dict(params)


def _text(value: Any) -> str:
    """A message body: strings as they are, anything else as JSON (as Step Functions does)."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


async def sqs_send_message(params: Any, call: Call) -> dict[str, Any]:
    """``arn:aws:states:::sqs:sendMessage[.waitForTaskToken]`` -> {MessageId, MD5OfMessageBody, ...}."""
    _check_pattern(call, {REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN})
    args = _params(params, SQS_SEND_PARAMS, "sqs:sendMessage")
    if "QueueUrl" not in args or "MessageBody" not in args:
        raise StatesError("States.Runtime", "sqs:sendMessage needs QueueUrl and MessageBody")
    args["MessageBody"] = _text(args["MessageBody"])
    return await _guarded(
        _clients(call),
        "sqs",
        "send_message",
        args,
        service_error="SQS.AmazonSQSException",
        client_error="SQS.SdkClientException",
        label="AmazonSQS",
    )


async def sns_publish(params: Any, call: Call) -> dict[str, Any]:
    """``arn:aws:states:::sns:publish[.waitForTaskToken]`` -> {MessageId[, SequenceNumber]}."""
    _check_pattern(call, {REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN})
    args = _params(params, SNS_PUBLISH_PARAMS, "sns:publish")
    if "Message" not in args:
        raise StatesError("States.Runtime", "sns:publish needs a Message")
    if not any(k in args for k in ("TopicArn", "TargetArn", "PhoneNumber")):
        raise StatesError("States.Runtime", "sns:publish needs TopicArn, TargetArn or PhoneNumber")
    args["Message"] = _text(args["Message"])
    return await _guarded(
        _clients(call),
        "sns",
        "publish",
        args,
        service_error="SNS.AmazonSNSException",
        client_error="SNS.SdkClientException",
        label="AmazonSNS",
    )


DYNAMODB_ACTIONS = {"getItem", "putItem", "updateItem", "deleteItem"}


async def dynamodb_call(params: Any, call: Call) -> dict[str, Any]:
    """``arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem`` (errors ``DynamoDB.*``)."""
    _check_pattern(call, {REQUEST_RESPONSE})
    action = call.action.split(":", 1)[1]
    if action not in DYNAMODB_ACTIONS:
        raise StatesError("States.Runtime", f"The integration '{call.resource}' is not supported")
    if not isinstance(params, Mapping):
        raise StatesError("States.Runtime", f"dynamodb:{action} needs an object of Parameters")
    from botocore import xform_name

    return await _guarded(
        _clients(call),
        "dynamodb",
        xform_name(action[:1].upper() + action[1:]),
        params,
        service_error="DynamoDB.AmazonDynamoDBException",
        client_error="DynamoDB.SdkClientException",
        label="AmazonDynamoDBv2",
        sdk_prefix="DynamoDB",
    )


async def sdk_call(params: Any, call: Call) -> dict[str, Any]:
    """``arn:aws:states:::aws-sdk:<service>:<apiAction>``: any boto3 API call."""
    _check_pattern(call, {REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN})
    parts = call.action.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise StatesError("States.Runtime", f"'{call.resource}': expected aws-sdk:<service>:<apiAction>")
    service = boto3_service(parts[1])
    action = parts[2]
    from botocore import xform_name

    operation = xform_name(action[:1].upper() + action[1:])
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise StatesError("States.Runtime", f"aws-sdk:{parts[1]}:{action} needs an object of Parameters")
    clients = _clients(call)
    client = clients.client(service)
    prefix = pascal_service_name(client.meta.service_model.service_id)
    return await _guarded(
        clients,
        service,
        operation,
        params,
        service_error=f"{prefix}.AwsServiceException",
        client_error=f"{prefix}.SdkClientException",
        label=str(client.meta.service_model.service_id),
        sdk_prefix=prefix,
    )
