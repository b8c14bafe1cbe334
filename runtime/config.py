"""One configuration model for every role, from STATEHOP_* environment variables and an
optional file (``STATEHOP_CONFIG=path.json|.toml``), validated by pydantic."""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

EMBEDDED_DATABASE = "sqlite+aiosqlite:///:memory:"
EMBEDDED_AMQP = "memory://"


class _FileSource(PydanticBaseSettingsSource):
    """Values from the file named by STATEHOP_CONFIG (JSON or TOML); env vars win over it."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("STATEHOP_CONFIG")
        if not path:
            return {}
        text = Path(path).read_text()
        data = tomllib.loads(text) if path.endswith(".toml") else json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the configuration file must hold an object")
        return {k.lower(): v for k, v in data.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STATEHOP_", extra="forbid")

    amqp_url: str = Field(EMBEDDED_AMQP, description="memory:// (embedded) or amqp://user:pass@host/vhost")
    database_url: str = Field(
        EMBEDDED_DATABASE, description="sqlite+aiosqlite:///file.db or postgresql+asyncpg://..."
    )
    queue_prefix: str = "statehop"
    queue_type: Literal["quorum", "classic"] = "quorum"
    prefetch: int = Field(64, ge=1, le=10_000)
    db_pool_size: int = Field(
        10, ge=1, le=500, description="store connections per process (the hop-commit pool adds half)"
    )
    fast_path: bool = Field(
        True,
        description="commit quick STANDARD hops without a transaction each: one grouped statement "
        "per hop on PostgreSQL, one short transaction per event-loop turn on SQLite",
    )
    express_max_seconds: float = Field(
        300.0, gt=0, description="an EXPRESS execution times out after this long (AWS: 300)"
    )
    region: str = "us-east-1"
    account: str = "123456789012"
    token_secret: str = Field(
        default_factory=lambda: secrets.token_hex(32),
        description="HMAC key for task tokens; set the same value on every replica",
    )
    resource_map: dict[str, str] = Field(default_factory=dict)
    resource_map_file: str | None = None
    max_payload_bytes: int = Field(1024 * 1024, ge=1024)
    shutdown_timeout: float = Field(30.0, ge=0)
    log_format: Literal["json", "console"] = "console"
    log_level: str = "INFO"
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics of worker/scheduler"
    )
    # health endpoints of worker and scheduler (unset: none)
    health_port: int | None = Field(None, ge=0, le=65535)
    # API role
    api_host: str = "0.0.0.0"
    api_port: int = Field(8080, ge=0, le=65535)
    api_auth: str = Field("sigv4,bearer", description="'open', 'sigv4', 'bearer' or 'sigv4,bearer'")
    access_keys: dict[str, str] = Field(default_factory=dict, description='SigV4 keys: {"AKID": "secret"}')
    api_tokens: list[str] = Field(default_factory=list, description='bearer tokens: ["t1", "t2"]')
    activity_poll_seconds: float = Field(60.0, gt=0, le=600)
    sync_timeout_seconds: float = Field(300.0, gt=0)

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if value.split("://", 1)[0] not in ("memory", "amqp", "amqps"):
            raise ValueError("must start with memory://, amqp:// or amqps://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)

    def resources(self) -> dict[str, str]:
        mapping = {}
        if self.resource_map_file:
            mapping.update(json.loads(Path(self.resource_map_file).read_text()))
        mapping.update(self.resource_map)
        return mapping

    @property
    def embedded(self) -> bool:
        return self.amqp_url.startswith("memory://")
