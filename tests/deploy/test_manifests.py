"""k8s/: every overlay renders offline with kustomize, every object validates against the
Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields are errors), and the
manifests keep the promises docs/deploy.md makes: probes and resources on every container,
a grace period longer than the worker's drain, no open API auth outside dev, pinned images
in production, no secrets in git, hardened pods.

Needs kubectl (or kustomize) and kubernetes-validate; without them the tests fail and say
what to install (tools.py). They never skip.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import K8S, kubernetes_validate_module, render, yaml_module

OVERLAYS = ("dev", "production", "production-keda")
PRODUCTION = ("production", "production-keda")
# The oldest Kubernetes minor these manifests are meant for, and the newest bundled schema.
KUBERNETES_VERSIONS = ("1.30.0", "latest")
# kinds from CRDs kubernetes-validate has no schema for: checked structurally below
CRD_GROUPS = ("keda.sh/",)
ROLES = ("api", "worker", "scheduler")
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}


@cache
def rendered(target: str) -> tuple[dict[str, Any], ...]:
    path = K8S / ("base" if target == "base" else f"overlays/{target}")
    return tuple(render(path))


def objects(target: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [o for o in rendered(target) if kind is None or o["kind"] == kind]


def one(target: str, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects(target, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{target}: expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(target: str) -> list[dict[str, Any]]:
    return [o for o in rendered(target) if o["kind"] in WORKLOADS]


def config(target: str) -> dict[str, str]:
    """The shared settings: data of the (single) statehop-config ConfigMap."""
    maps = [o for o in objects(target, "ConfigMap") if o["metadata"]["name"].startswith("statehop-config")]
    assert len(maps) == 1, f"{target}: expected one statehop-config ConfigMap"
    return maps[0].get("data", {})


def env_of(target: str, container: dict[str, Any]) -> dict[str, str]:
    """A container's literal environment: its ConfigMap envFrom, then its own `value`s."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            cms = [o for o in objects(target, "ConfigMap") if o["metadata"]["name"] == ref["name"]]
            assert cms, f"{target}: envFrom names a missing ConfigMap {ref['name']}"
            env.update(cms[0].get("data", {}))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"{container['name']}: probe port {port!r} is not a declared containerPort"
    return int(named[port])


# ----------------------------------------------------------------------------- rendering, schemas


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_renders_offline(target: str) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered(target)}
    for role in ROLES:
        assert ("Deployment", f"statehop-{role}") in kinds, f"{target}: no {role} Deployment"
    assert ("Service", "statehop-api") in kinds
    assert ("ServiceAccount", "statehop") in kinds
    namespaces = {o["metadata"].get("namespace") for o in rendered(target) if o["kind"] != "Namespace"}
    assert len(namespaces) == 1 and None not in namespaces, f"{target}: namespaces {namespaces}"
    (ns,) = objects(target, "Namespace")
    assert ns["metadata"]["name"] in namespaces


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_objects_validate_against_kubernetes_schemas(target: str, version: str) -> None:
    kv = kubernetes_validate_module()
    if version == "latest":
        version = kv.latest_version()
    problems = []
    for obj in rendered(target):
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            problems.append(f"{where}: {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            problems.append(f"{where}: {exc.message}")
    assert not problems, f"{target} against Kubernetes {version}:\n" + "\n".join(problems)


def test_keda_objects_are_well_formed() -> None:
    scaled = one("production-keda", "ScaledObject", "statehop-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    target = scaled["spec"]["scaleTargetRef"]
    assert (target.get("kind", "Deployment"), target["name"]) == ("Deployment", "statehop-worker")
    one("production-keda", "Deployment", "statehop-worker")
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    prefix = config("production-keda")["STATEHOP_QUEUE_PREFIX"]
    queues = set()
    for trigger in scaled["spec"]["triggers"]:
        if trigger["type"] == "rabbitmq":
            meta = trigger["metadata"]
            assert meta["mode"] in ("QueueLength", "MessageRate") and int(meta["value"]) > 0
            queues.add(meta["queueName"])
            auth = one("production-keda", "TriggerAuthentication", trigger["authenticationRef"]["name"])
            (ref,) = auth["spec"]["secretTargetRef"]
            assert (ref["parameter"], ref["name"], ref["key"]) == (
                "host",
                "statehop-secrets",
                "STATEHOP_AMQP_URL",
            )
    assert {f"{prefix}.hops", f"{prefix}.replies"} <= queues, queues
    # KEDA owns its own HPA: a second one on the same Deployment would fight it
    assert not objects("production-keda", "HorizontalPodAutoscaler")


# ----------------------------------------------------------------------------- containers


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_every_container_has_resources_and_probes(target: str) -> None:
    for workload in workloads(target):
        for c in pod_spec(workload)["containers"]:
            where = f"{target}: {workload['metadata']['name']}/{c['name']}"
            resources = c.get("resources", {})
            for key in ("cpu", "memory"):
                assert resources.get("requests", {}).get(key), f"{where}: no {key} request"
                assert resources.get("limits", {}).get(key), f"{where}: no {key} limit"
            for probe in ("livenessProbe", "readinessProbe"):
                spec = c.get(probe)
                assert spec, f"{where}: no {probe}"
                handler = spec.get("httpGet") or spec.get("tcpSocket") or spec.get("grpc")
                if handler:
                    port_number(c, handler["port"])
                else:
                    assert spec.get("exec", {}).get("command"), f"{where}: {probe} has no handler"


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_health_and_metrics_ports_match_the_settings(target: str) -> None:
    for role in ROLES:
        deployment = one(target, "Deployment", f"statehop-{role}")
        (c,) = pod_spec(deployment)["containers"]
        env = env_of(target, c)
        assert c["args"] == [role]
        if role == "api":
            assert port_number(c, "http") == int(env["STATEHOP_API_PORT"])
            probe_port = c["readinessProbe"]["httpGet"]["port"]
            assert port_number(c, probe_port) == int(env["STATEHOP_API_PORT"])
        else:
            health = int(env["STATEHOP_HEALTH_PORT"])
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert port_number(c, c[probe]["httpGet"]["port"]) == health, (role, probe)
            assert port_number(c, "metrics") == int(env["STATEHOP_METRICS_PORT"])
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        scrape = int(annotations["prometheus.io/port"])
        assert scrape in {p["containerPort"] for p in c["ports"]}, (role, scrape)
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"


def _prestop_seconds(container: dict[str, Any]) -> float:
    pre = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre:
        return float(pre["sleep"]["seconds"])
    command = pre.get("exec", {}).get("command", [])
    if command[:1] == ["sleep"]:
        return float(command[1])
    return 0.0


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_grace_period_exceeds_the_shutdown_drain(target: str) -> None:
    for role in ROLES:
        deployment = one(target, "Deployment", f"statehop-{role}")
        (c,) = pod_spec(deployment)["containers"]
        timeout = float(env_of(target, c)["STATEHOP_SHUTDOWN_TIMEOUT"])
        grace = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
        needed = timeout + _prestop_seconds(c)
        assert grace > needed, (
            f"{target}: {role} terminationGracePeriodSeconds={grace} must exceed "
            f"STATEHOP_SHUTDOWN_TIMEOUT + preStop = {needed}"
        )
    worker = one(target, "Deployment", "statehop-worker")
    assert pod_spec(worker)["terminationGracePeriodSeconds"] > float(
        config(target)["STATEHOP_SHUTDOWN_TIMEOUT"]
    )


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_pods_are_hardened(target: str) -> None:
    for workload in workloads(target):
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"].get("runAsUser", 1) != 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["serviceAccountName"] == "statehop", name
        assert spec.get("automountServiceAccountToken") is False, name
        for c in containers(workload):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}/{c['name']}: a read-only root needs a writable /tmp"


# ----------------------------------------------------------------------------- auth, secrets, images


def _auth_settings(target: str) -> list[str]:
    values = [config(target)["STATEHOP_API_AUTH"]]
    for workload in workloads(target):
        for c in containers(workload):
            values += [
                e["value"] for e in c.get("env", []) if e["name"] == "STATEHOP_API_AUTH" and "value" in e
            ]
    return values


@pytest.mark.parametrize("target", ["base", *PRODUCTION])
def test_open_auth_is_never_set_outside_dev(target: str) -> None:
    for value in _auth_settings(target):
        modes = {m.strip().lower() for m in value.split(",")}
        assert "open" not in modes, f"{target}: STATEHOP_API_AUTH={value!r} turns API authentication off"
        assert modes <= {"sigv4", "bearer"} and modes, value


@pytest.mark.parametrize("target", PRODUCTION)
def test_production_uses_sigv4(target: str) -> None:
    assert config(target)["STATEHOP_API_AUTH"] == "sigv4"


def test_dev_opens_auth_explicitly() -> None:
    assert config("dev")["STATEHOP_API_AUTH"] == "open"
    (secret,) = objects("dev", "Secret")
    assert secret["metadata"]["annotations"]["statehop.io/development-only"] == "true"


def _secret_keys() -> set[str]:
    example = yaml_module().safe_load((K8S / "base/secret.example.yaml").read_text())
    return set(example["stringData"])


@pytest.mark.parametrize("target", ["base", *PRODUCTION])
def test_no_secret_is_rendered_and_refs_use_documented_keys(target: str) -> None:
    assert not objects(target, "Secret"), f"{target}: Secrets are created out of band, not kept in git"
    keys = _secret_keys()
    for workload in workloads(target):
        for c in containers(workload):
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "statehop-secrets", ref
                    assert ref["key"] in keys, f"{ref['key']} is not in k8s/base/secret.example.yaml"
                    assert item["name"] == ref["key"]


@pytest.mark.parametrize("target", OVERLAYS)
def test_generated_config_and_secret_refs_resolve(target: str) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered(target)}
    for workload in workloads(target):
        for c in containers(workload):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and target == "dev" and not ref.get("optional"):
                    assert ("Secret", ref["name"]) in names, ref


def test_only_api_pods_get_api_credentials() -> None:
    for role in ("worker", "scheduler"):
        (c,) = pod_spec(one("production", "Deployment", f"statehop-{role}"))["containers"]
        names = {e["name"] for e in c.get("env", [])}
        assert not names & {"STATEHOP_ACCESS_KEYS", "STATEHOP_API_TOKENS"}, role


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@pytest.mark.parametrize("target", PRODUCTION)
def test_production_images_are_pinned(target: str) -> None:
    for workload in workloads(target):
        for c in containers(workload):
            image = c["image"]
            if _DIGEST.search(image):
                continue
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{image}: no tag (means :latest)"
            assert tag not in ("latest", "dev", ""), f"{workload['metadata']['name']}: image {image}"
            assert "/" in name, f"{image}: production pulls from a registry, not a local image"


# ----------------------------------------------------------------------------- scaling, availability


def test_dev_runs_one_replica_of_everything() -> None:
    for role in ROLES:
        assert one("dev", "Deployment", f"statehop-{role}")["spec"]["replicas"] == 1
    assert not objects("dev", "HorizontalPodAutoscaler")


@pytest.mark.parametrize("target", ["base", "production"])
def test_workers_scale_on_cpu(target: str) -> None:
    hpa = one(target, "HorizontalPodAutoscaler", "statehop-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "statehop-worker"
    assert any(m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"] if m["type"] == "Resource")
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # the autoscaler owns the count: a `replicas` in the Deployment would reset it on every apply
    assert "replicas" not in one(target, "Deployment", "statehop-worker")["spec"]


def test_production_has_more_replicas_than_dev() -> None:
    assert one("production", "Deployment", "statehop-api")["spec"]["replicas"] >= 2
    assert one("production", "Deployment", "statehop-scheduler")["spec"]["replicas"] >= 2
    assert one("production", "HorizontalPodAutoscaler", "statehop-worker")["spec"]["minReplicas"] >= 3


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_every_deployment_has_a_disruption_budget(target: str) -> None:
    pdbs = objects(target, "PodDisruptionBudget")
    for deployment in objects(target, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _selects(deployment["spec"]["selector"], labels)
        covering = [p for p in pdbs if _selects(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{target}: {deployment['metadata']['name']} needs one PDB"
        # maxUnavailable, so a one-replica dev install can still be drained
        assert "maxUnavailable" in covering[0]["spec"], covering[0]["metadata"]["name"]


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_api_service_selects_the_api_pods(target: str) -> None:
    service = one(target, "Service", "statehop-api")
    api = one(target, "Deployment", "statehop-api")
    assert _selects(
        {"matchLabels": service["spec"]["selector"]}, api["spec"]["template"]["metadata"]["labels"]
    )
    (c,) = pod_spec(api)["containers"]
    for port in service["spec"]["ports"]:
        port_number(c, port["targetPort"])


def test_production_restricts_ingress() -> None:
    policies = {p["metadata"]["name"]: p for p in objects("production", "NetworkPolicy")}
    deny = policies["statehop-default-deny-ingress"]
    assert deny["spec"]["policyTypes"] == ["Ingress"] and not deny["spec"].get("ingress")
    api_ports = {p["port"] for r in policies["statehop-api-ingress"]["spec"]["ingress"] for p in r["ports"]}
    assert api_ports == {8080}


# ----------------------------------------------------------------------------- the image


def _dockerfile() -> str:
    return (K8S / "Dockerfile").read_text()


def test_dockerfile_is_slim_multistage_and_non_root() -> None:
    text = _dockerfile()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2 and all("${PYTHON_IMAGE}" in f for f in froms), froms
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0", users
    (entry,) = [line for line in lines if line.startswith("ENTRYPOINT ")]
    assert '"statehop"' in entry, entry
    installs = [line for line in lines if "pip install" in line]
    assert any(re.search(r"pip install \.(\s|$)", line) for line in installs), installs
    assert not any(re.search(r"\[(test|dev)\]", line) for line in lines), "no dev/test extras in the image"


def test_dockerignore_keeps_the_context_small() -> None:
    ignore = (K8S / "Dockerfile.dockerignore").read_text().splitlines()
    assert "**" in ignore, "start from nothing and allow only what the image needs"
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", _dockerfile(), re.M))
    for sources in copied:
        for source in sources.split():
            source = source.rstrip("/")
            assert f"!{source}" in ignore or f"!{source}/**" in ignore, (
                f"{source} is excluded from the context"
            )


def test_every_kustomization_file_is_used() -> None:
    """No stray manifest: every YAML under k8s/ is a kustomization, listed in one, or the
    Secret template."""
    listed: set[Path] = set()
    for kfile in K8S.rglob("kustomization.yaml"):
        data = yaml_module().safe_load(kfile.read_text())
        for entry in data.get("resources", []) + data.get("components", []):
            listed.add((kfile.parent / entry).resolve())
    for path in K8S.rglob("*.yaml"):
        if path.name == "kustomization.yaml" or path.name == "secret.example.yaml":
            continue
        assert path.resolve() in listed, f"{path.relative_to(K8S)} is not listed in any kustomization"
