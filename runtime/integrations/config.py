"""Configuration of the built-in integrations, from ``STATEHOP_*`` environment variables.

| variable | meaning |
|---|---|
| ``STATEHOP_REGION`` / ``STATEHOP_ACCOUNT`` | region and account used in ARNs, events and AWS calls |
| ``STATEHOP_AWS_ENDPOINT_URL`` | endpoint for every AWS call (LocalStack, moto, ElasticMQ, ...) |
| ``STATEHOP_AWS_ENDPOINT_URL_<SERVICE>`` | endpoint for one boto3 service, e.g. ``..._SQS``, ``..._SNS`` |
| ``STATEHOP_AWS_ENDPOINTS`` | the same as JSON: ``{"sqs": "http://...", "sns": "http://..."}`` |
| ``STATEHOP_AWS_REGION`` | region for AWS calls (default: ``STATEHOP_REGION``) |
| ``STATEHOP_AWS_USE_AWS`` | ``true``: services without an endpoint go to AWS itself (boto3 credentials) |
| ``STATEHOP_CONNECTIONS`` / ``..._FILE`` | HTTP Task connections (JSON; see connections.py) |
| ``STATEHOP_HTTP_TIMEOUT`` | seconds an HTTP Task waits for an answer (AWS: 60) |

Without an endpoint (and without ``STATEHOP_AWS_USE_AWS``) an AWS integration fails the
state with ``States.Runtime`` naming the variable to set: nothing goes to AWS by accident.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.integrations.connections import Connection, load_connections

_TRUE = {"1", "true", "yes", "on"}


@dataclass
class IntegrationConfig:
    region: str = "us-east-1"
    account: str = "123456789012"
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    #: boto3 service name -> endpoint URL
    aws_endpoints: dict[str, str] = field(default_factory=dict)
    use_aws: bool = False
    connections: dict[str, Connection] = field(default_factory=dict)
    http_timeout: float = 60.0

    def endpoint_for(self, service: str) -> str | None:
        return self.aws_endpoints.get(service) or self.aws_endpoint_url

    @property
    def aws_call_region(self) -> str:
        return self.aws_region or self.region

    def connection(self, arn: str) -> Connection | None:
        """A connection by its ARN, or by the name inside the ARN (``connection/<name>/<id>``)."""
        found = self.connections.get(arn)
        if found is not None:
            return found
        name = connection_name(arn)
        return self.connections.get(name) if name else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IntegrationConfig:
        env = os.environ if env is None else env
        endpoints: dict[str, str] = {}
        raw = env.get("STATEHOP_AWS_ENDPOINTS")
        if raw:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("STATEHOP_AWS_ENDPOINTS must be a JSON object {service: url}")
            endpoints.update({str(k).lower(): str(v) for k, v in data.items()})
        marker = "STATEHOP_AWS_ENDPOINT_URL_"
        for key, value in env.items():
            if key.startswith(marker) and value:
                endpoints[key[len(marker) :].lower().replace("_", "-")] = value
        connections_doc: Any = {}
        if env.get("STATEHOP_CONNECTIONS_FILE"):
            connections_doc = json.loads(Path(env["STATEHOP_CONNECTIONS_FILE"]).read_text())
        if env.get("STATEHOP_CONNECTIONS"):
            inline = json.loads(env["STATEHOP_CONNECTIONS"])
            connections_doc = _merge(connections_doc, inline)
        return cls(
            region=env.get("STATEHOP_REGION", "us-east-1"),
            account=env.get("STATEHOP_ACCOUNT", "123456789012"),
            aws_region=env.get("STATEHOP_AWS_REGION") or None,
            aws_endpoint_url=env.get("STATEHOP_AWS_ENDPOINT_URL") or None,
            aws_endpoints=endpoints,
            use_aws=env.get("STATEHOP_AWS_USE_AWS", "").lower() in _TRUE,
            connections=load_connections(connections_doc, env) if connections_doc else {},
            http_timeout=float(env.get("STATEHOP_HTTP_TIMEOUT", "60")),
        )


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, list) or isinstance(b, list):
        return [*(a if isinstance(a, list) else [a] if a else []), *(b if isinstance(b, list) else [b])]
    return {**(a or {}), **(b or {})}


def connection_name(arn: str) -> str | None:
    """``arn:aws:events:<region>:<account>:connection/<name>/<id>`` -> ``<name>``."""
    _, sep, rest = arn.partition(":connection/")
    if not sep:
        return None
    return rest.split("/", 1)[0] or None
