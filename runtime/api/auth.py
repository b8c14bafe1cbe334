"""Who may call the API: AWS Signature V4, bearer tokens, or (explicitly) nobody checked.

SigV4 is verified by recomputing the signature with botocore's own signer and the secret of
the access key the request names, so whatever boto3, the AWS CLI or Terraform sign is checked
by the same code that signed it; only static keys from configuration are known (no STS, no
presigned URLs). Bearer tokens are for REST clients and the console.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from runtime.api.config import BEARER, SIGV4, ApiSettings
from runtime.api.errors import ApiError

SERVICE = "states"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What authentication looks at: method, raw path and query, headers (multi), body."""

    method: str
    scheme: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return ",".join(values) if values else None

    def all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, for logs: ``sigv4:AKID``, ``bearer`` or ``anonymous``."""

    name: str


ANONYMOUS = Principal("anonymous")


def authenticate(facts: RequestFacts, settings: ApiSettings, *, now: datetime | None = None) -> Principal:
    """The caller of a request, or ApiError with AWS's authentication error code."""
    if settings.open:
        return ANONYMOUS
    authorization = facts.header("authorization")
    if not authorization:
        raise ApiError(
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token: sign it (AWS SigV4) or send a bearer token",
        )
    scheme = authorization.split(None, 1)[0].lower()
    if scheme == "bearer" and BEARER in settings.auth:
        return _bearer(authorization, settings.tokens)
    if scheme == "aws4-hmac-sha256" and SIGV4 in settings.auth:
        return _sigv4(facts, authorization, settings, now or datetime.now(UTC))
    accepted = " or ".join(sorted(settings.auth))
    raise ApiError(
        "IncompleteSignatureException", f"Unsupported authorization scheme; this API accepts {accepted}"
    )


def _bearer(authorization: str, tokens: Iterable[str]) -> Principal:
    given = authorization.split(None, 1)[1].strip() if " " in authorization else ""
    ok = False
    for token in tokens:  # compare with every token: no early exit that times the match
        ok |= hmac.compare_digest(given.encode(), token.encode())
    if not ok:
        raise ApiError("UnrecognizedClientException", "The bearer token included in the request is invalid.")
    return Principal("bearer")


def _sigv4(facts: RequestFacts, authorization: str, settings: ApiSettings, now: datetime) -> Principal:
    match = _AUTH.match(authorization.strip())
    if match is None:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters",
        )
    scope = match["credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise ApiError("IncompleteSignatureException", f"Credential is malformed: {match['credential']!r}")
    access_key, day, region, service, _ = scope
    secret = settings.access_keys.get(access_key)
    if secret is None:
        raise ApiError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if service != SERVICE:
        raise ApiError(
            "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'."
        )
    signed = match["signed"].lower().split(";")
    amz_date = facts.header("x-amz-date")
    if amz_date is None or "x-amz-date" not in signed:
        raise ApiError("IncompleteSignatureException", "The request must carry a signed X-Amz-Date header")
    try:
        stamp = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(
            "IncompleteSignatureException", f"X-Amz-Date {amz_date!r} is not YYYYMMDD'T'HHMMSS'Z'"
        ) from None
    if abs((now - stamp).total_seconds()) > settings.max_clock_skew_seconds:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is more than {settings.max_clock_skew_seconds:.0f}s away from "
            f"the server time {now.strftime(_AMZ_DATE)}",
        )
    if day != amz_date[:8]:
        raise ApiError("InvalidSignatureException", "Credential date does not match X-Amz-Date")
    if "host" not in signed:
        raise ApiError("InvalidSignatureException", "The Host header must be signed")
    content_sha = facts.header("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(facts.body).hexdigest():
        raise ApiError("InvalidSignatureException", "X-Amz-Content-SHA256 does not match the request body")
    headers = {}
    for name in signed:
        value = facts.header(name)
        if value is None:
            raise ApiError("InvalidSignatureException", f"Signed header {name!r} is missing from the request")
        headers[name] = value
    host = headers["host"]
    url = f"{facts.scheme}://{host}{facts.raw_path}" + (f"?{facts.query}" if facts.query else "")
    request = AWSRequest(method=facts.method, url=url, headers=headers, data=facts.body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"].lower()):
        raise ApiError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return Principal(f"sigv4:{access_key}")
