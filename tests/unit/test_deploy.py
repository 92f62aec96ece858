"""The deployment files, checked without Docker or a cluster: Kubernetes manifests against the API's
OpenAPI schemas (strict: an unknown field fails), the files generated from the route table against
what the generators make now, docker-compose.yml's health checks and start order, the Dockerfile's
final stage, and deploy/kratos.yml against the config loader."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.service import Route, ServiceDefinition
from warden.routes import ADMIN_PORT, GRPC_PORT, PUBLIC_PORT, nginx_config, route_table
from warden.services import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
# The oldest Kubernetes release the manifests promise to run on, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30", "1.37")
ONE_SHOTS = {"migrate"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def kustomization() -> dict[str, Any]:
    return load_yaml(BASE / "kustomization.yaml")


def base_objects() -> list[dict[str, Any]]:
    return [doc for name in kustomization()["resources"] for doc in documents(BASE / name)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in base_objects() if doc["kind"] == kind}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_ingress", DEPLOY / "k8s" / "generate_ingress.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Kubernetes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_base_manifest_validates_against_the_kubernetes_schemas(name: str, version: str) -> None:
    for doc in documents(BASE / name):
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_exactly_the_files_in_base() -> None:
    listed = list(kustomization()["resources"])
    listed += [f for gen in kustomization()["configMapGenerator"] for f in gen.get("files", [])]
    present = [str(p.relative_to(BASE)) for p in BASE.rglob("*") if p.is_file() and p.name != "kustomization.yaml"]
    assert sorted(listed) == sorted(present)
    assert len(listed) == len(set(listed))


def test_config_copies_in_base_equal_the_deploy_files() -> None:
    for name in ("kratos.yml", "identity.schema.json"):
        assert (BASE / "config" / name).read_bytes() == (DEPLOY / name).read_bytes(), (
            f"deploy/k8s/base/config/{name} differs: cp deploy/{name} deploy/k8s/base/config/"
        )


def test_one_deployment_per_service_each_running_its_service() -> None:
    deployments = of_kind("Deployment")
    assert sorted(deployments) == sorted(SERVICE_NAMES)
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", name, "-c", "/etc/warden/kratos.yml"]
    (job,) = of_kind("Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "-c", "/etc/warden/kratos.yml"]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    workloads = {**of_kind("Deployment"), **of_kind("Job")}
    return [(name, w["spec"]["template"]["spec"]) for name, w in sorted(workloads.items())]


@pytest.mark.parametrize(("name", "pod"), pod_specs(), ids=[name for name, _ in pod_specs()])
def test_pods_run_unprivileged_on_a_read_only_filesystem_with_resources(name: str, pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts["/etc/warden"] == "config" and mounts["/tmp"] == "tmp"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["tmp"] and volumes["config"]["configMap"]["name"] == "warden-config"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_deployment_probes_the_admin_port_and_drains_before_stopping(name: str) -> None:
    pod = of_kind("Deployment")[name]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"public": PUBLIC_PORT, "admin": ADMIN_PORT, **_grpc_port(name)}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "admin"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/alive", "port": "admin"}
    assert pod["terminationGracePeriodSeconds"] == 30
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_has_a_service_an_hpa_and_a_pdb(name: str) -> None:
    labels = {"app.kubernetes.io/name": "warden", "app.kubernetes.io/component": name}
    assert of_kind("Deployment")[name]["spec"]["selector"]["matchLabels"] == labels
    service = of_kind("Service")[name]
    assert service["spec"]["selector"] == labels
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "public": PUBLIC_PORT,
        "admin": ADMIN_PORT,
        **_grpc_port(name),
    }
    hpa = of_kind("HorizontalPodAutoscaler")[name]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = of_kind("PodDisruptionBudget")[name]
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == labels
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"], "a PDB must leave a pod evictable"


def test_services_find_each_other_by_their_kubernetes_service_names() -> None:
    env = dict(line.split("=", 1) for gen in kustomization()["configMapGenerator"] for line in gen.get("literals", []))
    for name in SERVICE_NAMES:
        assert env[f"SERVICES_{name.upper()}_INTERNAL_URL"] == f"http://{name}:{ADMIN_PORT}"


def _grpc_port(name: str) -> dict[str, int]:
    """The services that serve gRPC (the route table says which) open the gRPC port too."""
    return {"grpc": GRPC_PORT} if any(r.port == "grpc" and r.service == name for r in route_table()) else {}


def test_network_policy_opens_admin_to_the_namespace_and_public_to_the_ingress_controller() -> None:
    (policy,) = of_kind("NetworkPolicy").values()
    rules = {rule["ports"][0]["port"]: rule["from"] for rule in policy["spec"]["ingress"]}
    assert rules[ADMIN_PORT] == [{"podSelector": {}}]
    assert list(rules[PUBLIC_PORT][0]) == ["namespaceSelector"]
    assert [list(source) for source in rules[GRPC_PORT]] == [["podSelector"], ["namespaceSelector"]]
    assert set(rules) == {PUBLIC_PORT, ADMIN_PORT, GRPC_PORT}


def test_ingress_is_what_the_generator_makes_from_the_route_table() -> None:
    assert (BASE / "ingress.yaml").read_text(encoding="utf-8") == generator().ingress_manifest(), (
        "deploy/k8s/base/ingress.yaml is stale: run .venv/bin/python deploy/k8s/generate_ingress.py"
    )


def _service(name: str, *routes: tuple[str, str]) -> ServiceDefinition:
    return ServiceDefinition(name, None, [Route(port, "GET", path, lambda c: c) for port, path in routes], None)  # type: ignore[arg-type]


def test_ingress_generator_routes_public_paths_to_their_owners() -> None:
    services = [
        _service("identity", ("public", "/schemas"), ("public", "/schemas/{id}"), ("admin", "/admin/identities")),
        _service("session", ("public", "/sessions/whoami"), ("public", "/sessions/{id}"), ("public", "/sessions")),
        _service("selfservice", ("public", "/ui/{tail:.*}"), ("internal", "/internal/selfservice/info")),
    ]
    paths = generator().ingress_paths(services)
    assert ("/schemas", "Exact", "identity") in paths and ("/schemas", "Prefix", "identity") in paths
    assert ("/sessions", "Prefix", "session") in paths and ("/sessions/whoami", "Exact", "session") in paths
    assert ("/ui", "Prefix", "selfservice") in paths
    assert ("/version", "Exact", "identity") in paths
    assert not any(path.startswith(("/admin", "/internal")) for path, _, _ in paths)
    kubernetes_validate.validate(yaml.safe_load(generator().ingress_manifest(services)), "1.37", strict=True)


def test_ingress_generator_refuses_a_prefix_claimed_by_two_services() -> None:
    services = [_service("identity", ("public", "/things/{id}")), _service("session", ("public", "/things/{id}/x"))]
    with pytest.raises(ValueError, match="/things"):
        generator().ingress_paths(services)


def kustomize() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return ["kubectl", "kustomize"] if shutil.which("kubectl") else None


@pytest.mark.skipif(kustomize() is None, reason="neither kustomize nor kubectl is installed")
@pytest.mark.parametrize("folder", [BASE, OVERLAY], ids=["base", "overlay"])
def test_kustomize_builds_objects_that_validate(folder: Path) -> None:
    built = subprocess.run([*kustomize(), str(folder)], capture_output=True, text=True, timeout=60, check=True)  # type: ignore[misc]
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    for doc in objects:
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)
    if folder == OVERLAY:
        namespaced = [doc for doc in objects if doc["kind"] != "Namespace"]
        assert {doc["metadata"]["namespace"] for doc in namespaced} == {"warden-example"}
        images = {
            c["image"]
            for doc in objects
            if doc["kind"] in ("Deployment", "Job")
            for c in doc["spec"]["template"]["spec"]["containers"]
        }
        assert images == {"registry.example.com/warden:0.1.0"}


# --- nginx and docker-compose ---------------------------------------------------------------------------


def test_nginx_config_is_what_warden_routes_nginx_prints() -> None:
    assert (DEPLOY / "nginx" / "warden.conf").read_text(encoding="utf-8") == nginx_config(), (
        "deploy/nginx/warden.conf is stale: run .venv/bin/warden routes --nginx > deploy/nginx/warden.conf"
    )


def compose() -> dict[str, Any]:
    return load_yaml(ROOT / "docker-compose.yml")


def test_compose_services_have_health_checks_and_one_shots_are_awaited() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    awaited = {
        dep
        for s in services.values()
        for dep, cond in s.get("depends_on", {}).items()
        if cond["condition"] == "service_completed_successfully"
    }
    assert awaited == ONE_SHOTS


def test_compose_depends_on_always_names_a_condition() -> None:
    for name, service in compose()["services"].items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must be a mapping with conditions"
        for dependency, spec in depends_on.items():
            assert spec["condition"] in ("service_healthy", "service_completed_successfully"), (name, dependency)


def test_compose_runs_each_warden_service_after_the_migration() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"][0] == "migrate"
    for name in SERVICE_NAMES:
        assert services[name]["command"][:2] == ["serve", name]
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "/health/ready" in " ".join(services[name]["healthcheck"]["test"])
        env = services[name]["environment"]
        for other in SERVICE_NAMES:
            assert env[f"SERVICES_{other.upper()}_INTERNAL_URL"] == f"http://{other}:{ADMIN_PORT}"


def test_nginx_upstreams_are_compose_services_and_nginx_waits_for_them() -> None:
    services = compose()["services"]
    hosts = set(re.findall(r"server ([\w-]+):\d+;", nginx_config()))
    assert hosts == set(SERVICE_NAMES) and hosts <= services.keys()
    nginx = services["nginx"]
    assert "./deploy/nginx/warden.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert {name: spec["condition"] for name, spec in nginx["depends_on"].items()} == dict.fromkeys(
        SERVICE_NAMES, "service_healthy"
    )


# --- Dockerfile -----------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_final_stage_is_slim_unprivileged_and_serves_by_default() -> None:
    *_, final = dockerfile_stages()
    assert final[0] == "FROM ${PYTHON_IMAGE}"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "USER 10001:10001" in final
    assert "EXPOSE 4433 4434" in final
    assert 'ENTRYPOINT ["warden"]' in final and 'CMD ["serve"]' in final
    (healthcheck,) = [line for line in final if line.startswith("HEALTHCHECK")]
    assert "urllib.request" in healthcheck and "/health/alive" in healthcheck
    assert not any(re.search(r"apt-get|apk |gcc|build-essential|pip install", line) for line in final)
    assert [line for line in final if line.startswith("COPY")] == ["COPY --from=builder /opt/warden /opt/warden"]


def test_dockerignore_sends_only_what_the_dockerfile_copies() -> None:
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert patterns[0] == "*", "the build context is an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    (builder, *_) = dockerfile_stages()
    copied = {src for line in builder if line.startswith("COPY ") for src in line.split()[1:-1]}
    for source in copied:
        assert any(fnmatch(source, pattern) or fnmatch(pattern, source) for pattern in allowed), source
    assert not allowed & {".venv", ".git", "tests", ".env", "deploy"}


def test_every_data_file_of_the_packages_goes_into_the_wheel() -> None:
    """The image installs Warden as a wheel: a file that package-data does not name is not in it."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    for package in ("warden", "shared", "services"):
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py":
                assert any(fnmatch(path.name, p) for p in patterns), f"{path.relative_to(ROOT)} would be left out"


# --- deploy/kratos.yml ----------------------------------------------------------------------------------


def compose_environment() -> dict[str, str]:
    """The Warden services' environment in docker-compose.yml, `${VAR:-default}` taken as its default."""
    env = compose()["services"]["identity"]["environment"]
    return {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}


def kubernetes_environment() -> dict[str, str]:
    (secret,) = of_kind("Secret").values()
    env = dict(line.split("=", 1) for gen in kustomization()["configMapGenerator"] for line in gen.get("literals", []))
    return {**secret["stringData"], **env}


@pytest.mark.parametrize("environ", [compose_environment(), kubernetes_environment()], ids=["compose", "kubernetes"])
def test_deploy_config_loads_with_the_environment_each_setup_gives(environ: dict[str, str]) -> None:
    from shared.config import load_settings

    settings = load_settings([DEPLOY / "kratos.yml"], environ=environ)
    assert settings.dsn_for("identity") == environ["DSN"]
    assert settings.bus.url == environ["BUS_URL"] and settings.cache.url == environ["CACHE_URL"]
    assert settings.internal_token == environ["SERVICES_INTERNAL_TOKEN"]
    assert settings.secrets.cookie == [environ["SECRETS_COOKIE"]]
    assert settings.secrets.pagination == [environ["SECRETS_PAGINATION"]]
    for name in SERVICE_NAMES:
        assert settings.internal_url(name) == f"http://{name}:{ADMIN_PORT}"
    assert (settings.serve.public.port, settings.serve.admin.port) == (PUBLIC_PORT, ADMIN_PORT)


def test_deploy_config_uses_only_kratos_and_warden_keys() -> None:
    from shared.config.schema import validate

    config = load_yaml(DEPLOY / "kratos.yml")
    assert not {"dsn", "secrets"} & config.keys(), "secrets come from the environment, not this file"
    validate({**config, "dsn": "memory"})  # Kratos's schema with Warden's keys, as the loader merges them


def test_identity_schema_is_an_email_and_password_schema() -> None:
    schema = json.loads((DEPLOY / "identity.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    email = schema["properties"]["traits"]["properties"]["email"]
    assert email["format"] == "email"
    assert email["ory.sh/kratos"]["credentials"]["password"]["identifier"] is True
    jsonschema.validate({"traits": {"email": "ada@example.com"}}, schema)


def test_docker_compose_config_is_valid() -> None:
    """What `docker compose config` checks, run by the compose tool itself (it needs no engine)."""
    import os
    import shutil
    import subprocess

    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is not installed (.ci/run installs it)")
        pytest.skip("docker-compose is not installed")
    result = subprocess.run(
        [tool, "-f", "docker-compose.yml", "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
