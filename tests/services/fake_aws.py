"""A minimal fake of the AWS endpoints the integration tests call, speaking the real protocols.

boto3 talks to it as to AWS (signed requests, AWS's wire formats): SQS over the AWS JSON 1.0
protocol (SendMessage, ReceiveMessage, CreateQueue), SNS over the Query protocol with XML
answers (Publish, CreateTopic), DynamoDB over AWS JSON 1.0 (PutItem, GetItem). Errors come
back as AWS shapes them, so botocore names them as it would on AWS. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class FakeAws:
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # queue URL -> messages
    topics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # topic ARN -> publishes
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # table -> key JSON -> item
    requests: list[str] = field(default_factory=list)
    base_url: str = "http://127.0.0.1"

    def queue_url(self, name: str) -> str:
        return f"{self.base_url}/{ACCOUNT}/{name}"

    def add_queue(self, name: str) -> str:
        url = self.queue_url(name)
        self.queues.setdefault(url, [])
        return url

    def add_topic(self, name: str) -> str:
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        self.topics.setdefault(arn, [])
        return arn

    # ------------------------------------------------------------------ HTTP

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        body = await request.body()
        if target.startswith("AmazonSQS."):
            return self._sqs(target.split(".", 1)[1], json.loads(body or b"{}"))
        if target.startswith("DynamoDB_20120810."):
            return self._dynamodb(target.split(".", 1)[1], json.loads(body or b"{}"))
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        return self._sns(form.get("Action", ""), form)

    # ------------------------------------------------------------------ SQS (JSON 1.0)

    @staticmethod
    def _json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status_code=status, media_type="application/x-amz-json-1.0")

    def _json_error(self, service: str, code: str, message: str, status: int = 400) -> Response:
        return self._json({"__type": f"{service}#{code}", "message": message}, status)

    def _sqs(self, action: str, data: dict[str, Any]) -> Response:
        self.requests.append(f"sqs:{action}")
        if action == "CreateQueue":
            return self._json({"QueueUrl": self.add_queue(data["QueueName"])})
        url = data.get("QueueUrl", "")
        if url not in self.queues:
            return self._json_error(
                "com.amazonaws.sqs", "QueueDoesNotExist", "The specified queue does not exist."
            )
        if action == "SendMessage":
            body = data["MessageBody"]
            message = {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": uuid.uuid4().hex,
                "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "Body": body,
            }
            self.queues[url].append(message)
            return self._json({"MessageId": message["MessageId"], "MD5OfMessageBody": message["MD5OfBody"]})
        if action == "ReceiveMessage":
            count = int(data.get("MaxNumberOfMessages", 1))
            taken, self.queues[url][:count] = self.queues[url][:count], []
            return self._json({"Messages": taken} if taken else {})
        return self._json_error("com.amazonaws.sqs", "InvalidAction", f"unsupported action {action}")

    # ------------------------------------------------------------------ DynamoDB (JSON 1.0)

    def _dynamodb(self, action: str, data: dict[str, Any]) -> Response:
        self.requests.append(f"dynamodb:{action}")
        service = "com.amazonaws.dynamodb.v20120810"
        table = self.tables.get(data.get("TableName", ""))
        if table is None:
            return self._json_error(service, "ResourceNotFoundException", "Requested resource not found")
        if action == "PutItem":
            item = data["Item"]
            table[json.dumps(item.get("id"), sort_keys=True)] = item
            return self._json({})
        if action == "GetItem":
            item = table.get(json.dumps(data["Key"].get("id"), sort_keys=True))
            return self._json({"Item": item} if item is not None else {})
        return self._json_error(service, "UnknownOperationException", action)

    # ------------------------------------------------------------------ SNS (Query + XML)

    @staticmethod
    def _xml(action: str, result: str, status: int = 200) -> Response:
        text = (
            f'<{action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<{action}Result>{result}</{action}Result>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return Response(text, status_code=status, media_type="text/xml")

    @staticmethod
    def _xml_error(code: str, message: str, status: int) -> Response:
        text = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        return Response(text, status_code=status, media_type="text/xml")

    def _sns(self, action: str, form: dict[str, str]) -> Response:
        self.requests.append(f"sns:{action}")
        if action == "CreateTopic":
            return self._xml(action, f"<TopicArn>{self.add_topic(form['Name'])}</TopicArn>")
        if action == "Publish":
            arn = form.get("TopicArn") or form.get("TargetArn", "")
            if arn not in self.topics:
                return self._xml_error("NotFound", "Topic does not exist", 404)
            message_id = str(uuid.uuid4())
            self.topics[arn].append({"MessageId": message_id, **form})
            return self._xml(action, f"<MessageId>{message_id}</MessageId>")
        return self._xml_error("InvalidAction", f"unsupported action {action}", 400)
