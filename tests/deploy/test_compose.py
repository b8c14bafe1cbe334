"""docker-compose.yml: it validates with `docker compose config`, and the stack is wired as
docs/deploy.md says (services, health checks, depends_on conditions, env vars, volumes).

The checks run on what the Compose implementation resolves (anchors, merge keys, defaults of
``${VAR:-default}``), so they see the file as `docker compose up` would, with none of the
overriding variables set. Without any Compose implementation they run on the file as parsed by
PyYAML with the defaults interpolated here, and test_compose_config_validates fails in CI
(CI=true) or warns elsewhere (tools.missing_compose).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.tools import COMPOSE_FILE, REPO, compose_validator, missing_compose, yaml_module

ROLES = ("api", "worker", "scheduler")
SERVICES = {"rabbitmq", "postgres", "jaeger", "migrate", *ROLES, "order-service"}

# variables the file reads with a default: unset for the check, so the defaults are seen
_OVERRIDES = re.compile(r"^(STATEHOP_.*|OTEL_.*|.*_HOST_PORT|COMPOSE_.*)$")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not _OVERRIDES.match(k)}


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def _interpolate(value: Any) -> Any:
    """Compose's ``${VAR:-default}`` with every variable unset (structure-only fallback)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: m["default"] or "", value).replace("$$", "$")
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    return value


@cache
def _resolved() -> tuple[str, dict[str, Any]]:
    """(how it was checked, the resolved configuration)."""
    command = compose_validator()
    if command is None:
        raw = yaml_module().safe_load(COMPOSE_FILE.read_text())
        return "structure only (no Compose implementation)", _interpolate(raw)
    v2 = command[-1] == "compose"
    args = [*command, "-f", str(COMPOSE_FILE), "config", *(["--format", "json"] if v2 else [])]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=120, check=False, cwd=REPO, env=_clean_env()
    )
    assert done.returncode == 0, (
        f"`{' '.join(args)}` rejected docker-compose.yml (exit {done.returncode}):\n"
        f"{done.stderr.strip() or done.stdout.strip()}"
    )
    config = json.loads(done.stdout) if v2 else yaml_module().safe_load(done.stdout)
    return " ".join(command[-2:] if v2 else command[-1:]), config


def _services() -> dict[str, Any]:
    return _resolved()[1]["services"]


def _env(service: str) -> dict[str, str]:
    env = _services()[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _depends(service: str) -> dict[str, str]:
    deps = _services()[service].get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def _seconds(duration: Any) -> float:
    """Compose durations: ``45s``, ``1m30s``, ``500ms``, or nanoseconds as a number."""
    if isinstance(duration, int | float):
        return duration / 1e9 if duration > 10_000 else float(duration)
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration)):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    assert total or str(duration).strip("0") == "", f"cannot read duration {duration!r}"
    return total


def _targets(service: str) -> set[int]:
    """Container ports a service publishes (short ``host:container/proto`` or long syntax)."""
    ports = _services()[service].get("ports") or []
    return {
        int(p["target"]) if isinstance(p, dict) else int(str(p).rsplit(":", 1)[-1].split("/")[0])
        for p in ports
    }


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def test_compose_config_validates() -> None:
    how, config = _resolved()
    if compose_validator() is None:
        missing_compose()
    assert config.get("services"), f"docker-compose.yml has no services ({how})"
    print(f"docker-compose.yml checked with: {how}")


def test_the_whole_stack_is_there() -> None:
    assert set(_services()) == SERVICES


def test_workers_run_two_replicas() -> None:
    assert _services()["worker"]["deploy"]["replicas"] == 2
    for name in ("worker", "api", "scheduler"):
        assert "container_name" not in _services()[name], "a fixed container_name prevents replicas"


def test_each_role_runs_its_command_in_the_statehop_image() -> None:
    image = _services()["api"]["image"]
    assert image.startswith("statehop:"), image
    for role in ROLES:
        service = _services()[role]
        assert _list(service.get("command")) == [role]
        assert service["image"] == image, f"{role} must run the same image as api"
        build = service.get("build") or {}
        assert str(build.get("dockerfile", "")).endswith("k8s/Dockerfile"), build
    entry = _list(_services()["order-service"].get("entrypoint"))
    assert entry[-3:] == ["python", "-m", "services.examples.order_service"], entry
    assert _services()["order-service"]["image"] == image


def test_infrastructure_has_health_checks_and_named_volumes() -> None:
    services, config = _services(), _resolved()[1]
    declared = set(config.get("volumes") or {})
    for name, mount in (("rabbitmq", "/var/lib/rabbitmq"), ("postgres", "/var/lib/postgresql/data")):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} needs a healthcheck"
        volumes = services[name].get("volumes") or []
        sources = {
            (v["source"], v["target"]) if isinstance(v, dict) else tuple(v.split(":")[:2]) for v in volumes
        }
        named = {src for src, target in sources if target == mount and src in declared}
        assert named, f"{name} must keep {mount} in a named volume (declared: {sorted(declared)})"
    assert "management" in services["rabbitmq"]["image"]


def test_images_are_pinned() -> None:
    for name in ("rabbitmq", "postgres", "jaeger"):
        image = _services()[name]["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin a version, not {image!r}"


def test_jaeger_takes_otlp_http_and_serves_its_ui() -> None:
    assert {4318, 16686} <= _targets("jaeger")


def test_roles_start_after_their_dependencies_are_healthy() -> None:
    for role in ROLES:
        deps = _depends(role)
        assert deps.get("rabbitmq") == "service_healthy", (role, deps)
        assert deps.get("postgres") == "service_healthy", (role, deps)
        assert deps.get("migrate") == "service_completed_successfully", (role, deps)
        assert "jaeger" in deps, (role, deps)
    assert _depends("migrate").get("postgres") == "service_healthy"
    assert _depends("order-service").get("rabbitmq") == "service_healthy"


def test_roles_share_broker_store_token_secret_and_queue_prefix() -> None:
    rabbit, pg = _env("rabbitmq"), _env("postgres")
    secrets = set()
    for service in (*ROLES, "order-service"):
        env = _env(service)
        amqp = urlsplit(env["STATEHOP_AMQP_URL"])
        assert (amqp.scheme, amqp.hostname, amqp.port) == ("amqp", "rabbitmq", 5672), (service, amqp)
        assert (amqp.username, amqp.password) == (
            rabbit["RABBITMQ_DEFAULT_USER"],
            rabbit["RABBITMQ_DEFAULT_PASS"],
        ), service
        assert env["STATEHOP_QUEUE_PREFIX"] == _env("api")["STATEHOP_QUEUE_PREFIX"], service
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", service
        assert env["STATEHOP_LOG_FORMAT"] == "json", service
        assert env.get("OTEL_SERVICE_NAME"), f"{service}: name it in traces"
        if service in ROLES:
            db = urlsplit(env["STATEHOP_DATABASE_URL"])
            assert db.scheme == "postgresql+asyncpg" and db.hostname == "postgres", (service, db)
            assert (db.username, db.password, db.path.lstrip("/")) == (
                pg["POSTGRES_USER"],
                pg["POSTGRES_PASSWORD"],
                pg["POSTGRES_DB"],
            ), service
            assert env["STATEHOP_TOKEN_SECRET"], service
            secrets.add(env["STATEHOP_TOKEN_SECRET"])
    assert len(secrets) == 1, "every role must use the same STATEHOP_TOKEN_SECRET"
    assert _env("migrate")["STATEHOP_DATABASE_URL"] == _env("api")["STATEHOP_DATABASE_URL"]


def test_the_api_is_published_and_not_open_by_default() -> None:
    env = _env("api")
    assert env["STATEHOP_API_PORT"] == "8080" and env["STATEHOP_API_HOST"] == "0.0.0.0"
    assert "open" not in env["STATEHOP_API_AUTH"].split(","), "open auth must be asked for explicitly"
    assert json.loads(env["STATEHOP_ACCESS_KEYS"]), "sigv4 needs an access key"
    tokens = json.loads(env["STATEHOP_API_TOKENS"])  # a JSON list: Settings.api_tokens is list[str]
    assert isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens), tokens
    assert 8080 in _targets("api")


@pytest.mark.parametrize("service", [*ROLES, "order-service"])
def test_stop_grace_period_covers_the_drain(service: str) -> None:
    env = _env(service)
    timeout = float(env.get("STATEHOP_SHUTDOWN_TIMEOUT", "30"))
    grace = _seconds(_services()[service].get("stop_grace_period", "10s"))
    assert grace > timeout, f"{service}: stop_grace_period {grace}s must exceed the {timeout}s drain"


@pytest.mark.parametrize("service", ["worker", "scheduler"])
def test_health_port_is_wired(service: str) -> None:
    env = _env(service)
    port = env["STATEHOP_HEALTH_PORT"]
    test = " ".join(_list(_services()[service]["healthcheck"]["test"]))
    assert f"127.0.0.1:{port}/healthz" in test, test


def test_statehop_containers_are_hardened() -> None:
    for service in ("migrate", *ROLES, "order-service"):
        spec = _services()[service]
        assert spec.get("read_only") is True, service
        assert "ALL" in (spec.get("cap_drop") or []), service
