"""HTTP Task connections, shaped as EventBridge's CreateConnection defines them.

``STATEHOP_CONNECTIONS`` (or the file ``STATEHOP_CONNECTIONS_FILE``) holds a JSON object whose
keys are connection ARNs or names, each value what you would pass to
``aws events create-connection`` (a list of such objects with ``Name``/``ConnectionArn`` works
too)::

    {"arn:aws:events:us-east-1:123456789012:connection/stripe/0f1e": {
        "AuthorizationType": "API_KEY",
        "AuthParameters": {
          "ApiKeyAuthParameters": {"ApiKeyName": "Authorization",
                                   "ApiKeyValue": "${env:STRIPE_KEY}"},
          "InvocationHttpParameters": {
            "HeaderParameters": [{"Key": "Stripe-Version", "Value": "2024-06-20"}]}}}}

``AuthorizationType`` is ``BASIC`` (``BasicAuthParameters``: Username, Password), ``API_KEY``
(``ApiKeyAuthParameters``: ApiKeyName, ApiKeyValue) or ``OAUTH_CLIENT_CREDENTIALS``
(``OAuthParameters``: AuthorizationEndpoint, HttpMethod, ClientParameters {ClientID,
ClientSecret}, OAuthHttpParameters). ``InvocationHttpParameters`` adds headers, query string
and body parameters to every request; on a clash the connection's value wins, as on
EventBridge. Any string may be ``${env:NAME}``, read from the environment at start-up, so
secrets can come from a Kubernetes Secret while the JSON sits in a ConfigMap.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from runtime.asl.errors import StatesError

BASIC = "BASIC"
API_KEY = "API_KEY"
OAUTH = "OAUTH_CLIENT_CREDENTIALS"
_ENV_REF = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")


class ConnectionConfigError(ValueError):
    """A connection definition that cannot be used."""


def _resolve(value: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):
        m = _ENV_REF.match(value)
        if m:
            if m.group(1) not in env:
                raise ConnectionConfigError(f"{where}: environment variable {m.group(1)} is not set")
            return env[m.group(1)]
        return value
    if isinstance(value, list):
        return [_resolve(v, env, where) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env, f"{where}.{k}") for k, v in value.items()}
    return value


def _pairs(params: Any, where: str) -> list[tuple[str, str]]:
    """EventBridge parameter lists ``[{"Key", "Value", "IsValueSecret"}]`` (or a plain object)."""
    if not params:
        return []
    if isinstance(params, Mapping):
        return [(str(k), str(v)) for k, v in params.items()]
    if not isinstance(params, list):
        raise ConnectionConfigError(f"{where}: expected a list of {{Key, Value}}")
    out = []
    for item in params:
        if not isinstance(item, Mapping) or "Key" not in item:
            raise ConnectionConfigError(f"{where}: every parameter needs a Key and a Value")
        out.append((str(item["Key"]), str(item.get("Value", ""))))
    return out


@dataclass
class HttpParameters:
    headers: list[tuple[str, str]] = field(default_factory=list)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any, where: str) -> HttpParameters:
        raw = raw or {}
        return cls(
            _pairs(raw.get("HeaderParameters"), f"{where}.HeaderParameters"),
            _pairs(raw.get("QueryStringParameters"), f"{where}.QueryStringParameters"),
            _pairs(raw.get("BodyParameters"), f"{where}.BodyParameters"),
        )


@dataclass
class Authorization:
    """What a connection adds to one request."""

    headers: dict[str, str]
    query: dict[str, str]
    body: dict[str, str]


class Connection:
    """One configured connection; OAuth tokens are fetched lazily and cached until expiry."""

    def __init__(self, name: str, spec: Mapping[str, Any]) -> None:
        where = f"connection {name!r}"
        self.name = name
        self.authorization_type = str(spec.get("AuthorizationType", "")).upper()
        auth = spec.get("AuthParameters") or {}
        if not isinstance(auth, Mapping):
            raise ConnectionConfigError(f"{where}: AuthParameters must be an object")
        self.invocation = HttpParameters.parse(
            auth.get("InvocationHttpParameters"), f"{where}.InvocationHttpParameters"
        )
        self._token: str | None = None
        self._token_expiry = 0.0
        self._lock = asyncio.Lock()
        if self.authorization_type == BASIC:
            basic = auth.get("BasicAuthParameters") or {}
            if "Username" not in basic or "Password" not in basic:
                raise ConnectionConfigError(f"{where}: BasicAuthParameters needs Username and Password")
            pair = f"{basic['Username']}:{basic['Password']}".encode()
            self._basic = "Basic " + base64.b64encode(pair).decode()
        elif self.authorization_type == API_KEY:
            key = auth.get("ApiKeyAuthParameters") or {}
            if not key.get("ApiKeyName") or "ApiKeyValue" not in key:
                raise ConnectionConfigError(f"{where}: ApiKeyAuthParameters needs ApiKeyName and ApiKeyValue")
            self._api_key = (str(key["ApiKeyName"]), str(key["ApiKeyValue"]))
        elif self.authorization_type == OAUTH:
            oauth = auth.get("OAuthParameters") or {}
            client = oauth.get("ClientParameters") or {}
            if not oauth.get("AuthorizationEndpoint") or not client.get("ClientID"):
                raise ConnectionConfigError(
                    f"{where}: OAuthParameters needs AuthorizationEndpoint and ClientParameters.ClientID"
                )
            self.token_endpoint = str(oauth["AuthorizationEndpoint"])
            self.token_method = str(oauth.get("HttpMethod", "POST")).upper()
            pair = f"{client['ClientID']}:{client.get('ClientSecret', '')}".encode()
            self._client_basic = "Basic " + base64.b64encode(pair).decode()
            self.oauth_params = HttpParameters.parse(
                oauth.get("OAuthHttpParameters"), f"{where}.OAuthHttpParameters"
            )
        else:
            raise ConnectionConfigError(
                f"{where}: AuthorizationType must be BASIC, API_KEY or OAUTH_CLIENT_CREDENTIALS, "
                f"not {spec.get('AuthorizationType')!r}"
            )

    @property
    def oauth(self) -> bool:
        return self.authorization_type == OAUTH

    async def authorize(self, client: httpx.AsyncClient) -> Authorization:
        headers = dict(self.invocation.headers)
        if self.authorization_type == BASIC:
            headers["Authorization"] = self._basic
        elif self.authorization_type == API_KEY:
            headers[self._api_key[0]] = self._api_key[1]
        else:
            headers["Authorization"] = f"Bearer {await self._access_token(client)}"
        return Authorization(headers, dict(self.invocation.query), dict(self.invocation.body))

    def invalidate(self) -> None:
        """Forget the cached OAuth token (after the API answered 401)."""
        self._token = None
        self._token_expiry = 0.0

    async def _access_token(self, client: httpx.AsyncClient) -> str:
        async with self._lock:
            if self._token is not None and time.monotonic() < self._token_expiry:
                return self._token
            form = dict(self.oauth_params.body)
            form.setdefault("grant_type", "client_credentials")
            headers = {"Authorization": self._client_basic, "Accept": "application/json"}
            headers.update(self.oauth_params.headers)
            query = dict(self.oauth_params.query)
            try:
                if self.token_method == "GET":
                    response = await client.get(
                        self.token_endpoint, params={**query, **form}, headers=headers
                    )
                else:
                    response = await client.request(
                        self.token_method, self.token_endpoint, params=query, data=form, headers=headers
                    )
            except httpx.HTTPError as exc:
                raise StatesError(
                    "States.Http.Socket",
                    f"OAuth token request for connection {self.name!r} failed: {type(exc).__name__}: {exc}",
                ) from None
            if not 200 <= response.status_code < 300:
                raise StatesError(
                    f"States.Http.StatusCode.{response.status_code}",
                    f"OAuth token endpoint {self.token_endpoint} of connection {self.name!r} answered "
                    f"{response.status_code}: {response.text[:500]}",
                )
            try:
                data = response.json()
                token = str(data["access_token"])
            except (ValueError, KeyError, TypeError):
                raise StatesError(
                    "States.Runtime",
                    f"OAuth token endpoint of connection {self.name!r} gave no access_token",
                ) from None
            try:
                lifetime = float(data.get("expires_in", 3600))
            except (TypeError, ValueError):
                lifetime = 3600.0
            self._token = token
            self._token_expiry = time.monotonic() + max(0.0, lifetime * 0.9)
            return token


def load_connections(doc: Any, env: Mapping[str, str]) -> dict[str, Connection]:
    """Parse the STATEHOP_CONNECTIONS document: ``{arn-or-name: spec}`` or ``[spec, ...]``."""
    entries: list[tuple[list[str], Mapping[str, Any]]] = []
    if isinstance(doc, Mapping):
        for key, spec in doc.items():
            if not isinstance(spec, Mapping):
                raise ConnectionConfigError(f"connection {key!r}: expected an object")
            keys = [str(key), *[str(spec[k]) for k in ("Name", "ConnectionArn") if spec.get(k)]]
            entries.append((keys, spec))
    elif isinstance(doc, list):
        for spec in doc:
            if not isinstance(spec, Mapping) or not (spec.get("Name") or spec.get("ConnectionArn")):
                raise ConnectionConfigError("every connection in the list needs a Name or a ConnectionArn")
            entries.append(([str(spec[k]) for k in ("Name", "ConnectionArn") if spec.get(k)], spec))
    else:
        raise ConnectionConfigError("connections must be a JSON object {arn-or-name: spec} or a list")
    out: dict[str, Connection] = {}
    for keys, spec in entries:
        connection = Connection(keys[0], _resolve(dict(spec), env, f"connection {keys[0]!r}"))
        for key in keys:
            out[key] = connection
    return out
