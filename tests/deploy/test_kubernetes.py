"""deploy/k8s: valid Kubernetes resources, shaped as docs/kubernetes.md and compose promise.

Every resource is validated against Kubernetes' own OpenAPI-derived JSON schemas, strictly (an
unknown or misspelt field fails), for the oldest and the newest Kubernetes versions we claim. The
schemas come with the ``kubernetes-validate`` package, so this runs offline. No cluster runs in
CI: what a cluster would add (admission, scheduling, the probes answering) is not proven here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.config import Settings, env_name, load_settings
from tests.support.settings import API_KEY, SESSION_KEY, TICKET_SECRET

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
VERSIONS = ("1.29.0", "1.37.0")  # the oldest release we support, and the newest schemas here


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def kustomization() -> dict[str, Any]:
    (doc,) = documents(K8S / "kustomization.yaml")
    return doc


def resources() -> list[dict[str, Any]]:
    return [doc for name in kustomization()["resources"] for doc in documents(K8S / name)]


def one(kind: str, name: str) -> dict[str, Any]:
    everything = [*resources(), *documents(K8S / "secret.example.yaml")]
    (found,) = [d for d in everything if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def bff() -> dict[str, Any]:
    return one("Deployment", "meetergo-calendar-bff")


def test_every_file_is_listed_and_every_listed_file_exists() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_resources_are_valid_for_kubernetes(path: str, version: str) -> None:
    docs = documents(K8S / path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_misspelt_field() -> None:
    broken = bff()
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_service_runs_hardened_as_in_the_compose_file() -> None:
    pod = bff()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
        10001,
        10001,
    )
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True  # compose: read_only
    assert context["allowPrivilegeEscalation"] is False  # compose: no-new-privileges
    assert context["capabilities"]["drop"] == ["ALL"]  # compose: cap_drop ALL
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = "/tmp"  # noqa: S108 - the container's path, as compose's tmpfs
    assert volumes[mounts[tmp]]["emptyDir"]["medium"] == "Memory"


def test_probes_follow_the_health_endpoints_and_the_drain_fits_the_grace_period() -> None:
    pod = bff()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "preStop" not in container.get("lifecycle", {})  # the service drains by itself
    config = one("ConfigMap", "meetergo-calendar-bff")["data"]
    drain = float(config["BFF_SHUTDOWN_DRAIN_SECONDS"])
    grace = float(config["BFF_SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > drain + grace
    assert container["args"][:2] == ["meetergo-bff", "serve"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000}


def test_service_and_disruption_budget_select_the_service_pods_only() -> None:
    labels = bff()["spec"]["template"]["metadata"]["labels"]
    assert bff()["spec"]["selector"]["matchLabels"] == labels
    service = one("Service", "meetergo-calendar-bff")
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    budget = one("PodDisruptionBudget", "meetergo-calendar-bff")
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert budget["spec"]["maxUnavailable"] == 1
    assert bff()["spec"]["replicas"] >= 2
    assert bff()["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_config_comes_from_the_configmap_and_the_secret_and_secrets_stay_in_the_secret() -> None:
    (container,) = bff()["spec"]["template"]["spec"]["containers"]
    sources = {
        next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]
    }
    assert sources == {
        "configMapRef": "meetergo-calendar-bff",
        "secretRef": "meetergo-calendar-bff-secrets",
    }
    config = one("ConfigMap", "meetergo-calendar-bff")["data"]
    secret = one("Secret", "meetergo-calendar-bff-secrets")["stringData"]
    known = {env_name(name): field for name, field in Settings.model_fields.items()}
    for name in [*config, *secret]:
        assert name in known, f"{name} is not a setting"
    for name in config:
        assert "SecretStr" not in str(known[name].annotation), f"{name} is a secret"
    for name, field in known.items():
        if "SecretStr" in str(field.annotation):
            assert name in secret, f"the secret setting {name} is missing from the example Secret"
    # With real values in the Secret, the service accepts the configuration as it stands.
    real = {
        **config,
        "BFF_MEETERGO_API_KEY": API_KEY,
        "BFF_SESSION_KEYS": SESSION_KEY,
        "BFF_TICKET_SECRET": TICKET_SECRET,
        "BFF_REDIS_URL": secret["BFF_REDIS_URL"],
    }
    settings = load_settings(
        _env_file=None, **{k.removeprefix("BFF_").lower(): v for k, v in real.items()}
    )
    assert settings.environment == "production"
    assert settings.redis_url is not None


def test_redis_option_is_in_memory_reachable_only_from_the_service_and_named_in_the_secret() -> (
    None
):
    redis = one("Deployment", "meetergo-calendar-bff-redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    assert container["args"][:5] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    policy = one("NetworkPolicy", "meetergo-calendar-bff-redis")
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"] == bff()["spec"]["template"]["metadata"]["labels"]
    service = one("Service", "meetergo-calendar-bff-redis")
    url = one("Secret", "meetergo-calendar-bff-secrets")["stringData"]["BFF_REDIS_URL"]
    assert url.startswith(f"redis://{service['metadata']['name']}:6379/")
