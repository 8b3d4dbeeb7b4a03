"""docker-compose.yml: valid Compose, healthy ordering, the demo's and the replicas' wiring.

There is no ``docker compose`` on CI's machines, so the file is validated against the Compose
Specification's JSON schema (the copy check-jsonschema ships) and read by the checks below, which
interpolate it as compose does and hand the result to the service's own configuration loader.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from app.config import ConfigError, Settings, env_name, load_settings, placeholder_reason
from sandbox import seed
from sandbox.config import SandboxSettings
from tests.deploy.compose import (
    MissingVariable,
    duration_seconds,
    environment,
    interpolate,
    load_compose,
    read_env_file,
    variables_used,
)
from tests.deploy.conftest import ROOT, cannot_run
from tests.deploy.dockerfile import read_dockerfile

COMPOSE = ROOT / "docker-compose.yml"
DEMO_ENV = ROOT / "deploy" / "demo.env"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
REQUIRED_SECRETS = ("BFF_MEETERGO_API_KEY", "BFF_SESSION_KEYS", "BFF_TICKET_SECRET")
PINNED_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.]+)?$")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_compose(COMPOSE)


@pytest.fixture(scope="module")
def demo(raw: dict[str, Any]) -> dict[str, Any]:
    """The model as `docker compose --env-file deploy/demo.env` sees it (nothing else set)."""
    model: dict[str, Any] = interpolate(raw, read_env_file(DEMO_ENV))
    return model


def _services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = model["services"]
    return services


def _bff_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the calendar service (they carry BFF_* variables)."""
    return {
        name: service
        for name, service in _services(model).items()
        if any(key.startswith("BFF_") for key in environment(service))
    }


def _profile(model: dict[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _services(model).items()
        if profile in service.get("profiles", [])
    }


# --- the Compose Specification ------------------------------------------------------------------


def test_compose_file_is_valid_per_the_compose_specification_schema() -> None:
    """As written (before interpolation), with check-jsonschema's vendored compose-spec schema."""
    command = [sys.executable, "-m", "check_jsonschema"]
    result = subprocess.run(
        [*command, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "No module named check_jsonschema" in result.stderr:
        cannot_run("check-jsonschema is not installed: pip install -e '.[dev]'")
    assert result.returncode == 0, result.stdout + result.stderr


def test_interpolated_demo_model_is_valid_per_the_schema(demo: dict[str, Any]) -> None:
    try:
        vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        cannot_run("check-jsonschema is not installed: pip install -e '.[dev]'")
    schema = json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{error.json_path}: {error.message}" for error in validator.iter_errors(demo)]
    assert errors == []


# --- health and ordering -------------------------------------------------------------------------


def test_every_service_has_a_healthcheck(raw: dict[str, Any]) -> None:
    for name, service in _services(raw).items():
        check = service.get("healthcheck")
        assert check, f"{name}: no healthcheck"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert check["test"][0] == "CMD", f"{name}: exec-form healthcheck (no shell needed)"
        for key in ("interval", "timeout"):
            assert duration_seconds(check[key]) > 0


def test_dependencies_wait_until_healthy(raw: dict[str, Any]) -> None:
    services = _services(raw)
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use the long depends_on form with a condition"
        for target, rule in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert rule == {"condition": "service_healthy"}, f"{name} -> {target}: {rule}"
            assert services[target].get("healthcheck"), target
            profiles = set(services[target].get("profiles", []))
            assert profiles <= set(service.get("profiles", [])), (
                f"{name} needs {target}, which only runs in profiles {profiles}"
            )


def test_bff_healthcheck_is_the_images(raw: dict[str, Any]) -> None:
    runtime = read_dockerfile(ROOT / "Dockerfile")[-1]
    _, image_check = runtime.one("HEALTHCHECK").healthcheck()
    for name, service in _bff_services(raw).items():
        assert service["healthcheck"]["test"] == ["CMD", *image_check], name
    sandbox_check = _services(raw)["sandbox"]["healthcheck"]["test"]
    assert sandbox_check == ["CMD", *[part.replace(":8000/", ":8001/") for part in image_check]]


# --- images ---------------------------------------------------------------------------------------


def test_images_are_pinned(raw: dict[str, Any]) -> None:
    for name, service in _services(raw).items():
        image = service.get("image", "")
        assert ":" in image, f"{name}: tag the image"
        assert not image.endswith(":latest"), f"{name}: never latest"
        if "build" in service:
            assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
            assert image == "meetergo-calendar-bff:local", name
        else:
            assert PINNED_TAG.match(image), f"{name}: pin a patch version, not {image!r}"


def test_redis_is_redis_7_alpine(raw: dict[str, Any]) -> None:
    redis = _services(raw)["redis"]
    assert redis["image"].startswith("redis:7.")
    assert redis["image"].endswith("-alpine")
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "ports" not in redis, "Redis stays on the compose network"


def test_sandbox_runs_from_the_service_image(raw: dict[str, Any]) -> None:
    services = _services(raw)
    assert services["sandbox"]["image"] == services["bff"]["image"]
    assert services["sandbox"]["command"] == ["python", "-m", "sandbox"]


# --- variables ------------------------------------------------------------------------------------


def _documented_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^(BFF_[A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_every_variable_is_documented_and_known() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    documented = _documented_variables()
    sandbox_names = {f"SANDBOX_{field.upper()}" for field in SandboxSettings.model_fields}
    for name in variables_used(text):
        if name.startswith("SANDBOX_"):
            assert name in sandbox_names, f"{name} is not a sandbox setting"
        else:
            assert name in documented, (
                f"{name} is used in docker-compose.yml but not in .env.example"
            )


def test_every_variable_set_is_a_real_setting(raw: dict[str, Any]) -> None:
    bff_names = {env_name(field) for field in Settings.model_fields}
    sandbox_names = {f"SANDBOX_{field.upper()}" for field in SandboxSettings.model_fields}
    for name, service in _services(raw).items():
        for key in environment(service):
            assert key in bff_names | sandbox_names, f"{name}: {key} is not a setting (typo?)"


def test_required_secrets_stop_compose_with_a_message(raw: dict[str, Any]) -> None:
    services = _bff_services(raw)
    assert services
    for name, service in services.items():
        env = environment(service)
        for secret in REQUIRED_SECRETS:
            match = re.fullmatch(rf"\$\{{{secret}:\?([^}}]+)\}}", env[secret])
            assert match, f"{name}: {secret} must be ${{{secret}:?message}}, not {env[secret]!r}"
            assert "deploy/demo.env" in match.group(1), "the message says how to run the demo"
    demo_values = read_env_file(DEMO_ENV)
    for secret in REQUIRED_SECRETS:
        partial = {key: value for key, value in demo_values.items() if key != secret}
        with pytest.raises(MissingVariable) as missing:
            interpolate(raw, partial)
        assert missing.value.name == secret
        assert secret in str(missing.value)


# --- the demo ----------------------------------------------------------------------------------


def _settings_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    with monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        try:
            return load_settings(_env_file=None)
        except ConfigError as exc:
            pytest.fail(f"the service refuses this configuration: {exc}")


def test_demo_env_is_marked_and_its_keys_pass_the_services_checks() -> None:
    text = DEMO_ENV.read_text(encoding="utf-8")
    assert text.startswith("# DEMO ONLY.")
    values = read_env_file(DEMO_ENV)
    assert set(values) == set(REQUIRED_SECRETS)
    assert values["BFF_MEETERGO_API_KEY"] == seed.MEMBER_KEY, "the sandbox's seeded member key"
    for key in ("BFF_SESSION_KEYS", "BFF_TICKET_SECRET"):
        assert len(values[key].encode()) >= 32, key
        assert placeholder_reason(values[key]) is None, key
    assert values["BFF_SESSION_KEYS"] != values["BFF_TICKET_SECRET"]


def test_demo_configuration_is_accepted_and_consistent(
    demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = _services(demo)
    bff = _settings_of(environment(services["bff"]), monkeypatch)
    assert bff.public_url == "http://localhost:8000"
    assert bff.is_development
    assert bff.demo
    assert bff.meetergo_base_url == "http://sandbox:8001"
    assert services["bff"]["ports"] == ["127.0.0.1:8000:8000"]

    with monkeypatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("SANDBOX_")]:
            patch.delenv(name)
        for key, value in environment(services["sandbox"]).items():
            patch.setenv(key, value)
        sandbox = SandboxSettings()
    assert (sandbox.host, sandbox.port) == ("0.0.0.0", 8001)  # noqa: S104 - inside its container
    assert sandbox.public_url == "http://127.0.0.1:8001", "authUrls open in the host's browser"
    assert services["sandbox"]["ports"] == ["127.0.0.1:8001:8001"]
    # The service reaches the sandbox by its compose name, on the port it listens on.
    base = urlsplit(bff.meetergo_base_url)
    assert base.hostname in services
    assert base.port == sandbox.port
    # Two different sites, as in production: the browser's return from consent is cross-site.
    assert urlsplit(bff.public_url).hostname != urlsplit(sandbox.public_url).hostname


def test_published_ports_stay_on_this_machine(raw: dict[str, Any]) -> None:
    for name, service in _services(raw).items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: publish on 127.0.0.1 only"


def test_stop_grace_period_covers_the_drain(demo: dict[str, Any]) -> None:
    defaults = Settings.model_fields
    for name, service in _bff_services(demo).items():
        env = environment(service)
        drain = float(
            env.get("BFF_SHUTDOWN_DRAIN_SECONDS", defaults["shutdown_drain_seconds"].default)
        )
        grace = float(
            env.get("BFF_SHUTDOWN_GRACE_SECONDS", defaults["shutdown_grace_seconds"].default)
        )
        assert duration_seconds(service["stop_grace_period"]) >= drain + grace, name


def test_service_containers_are_hardened(raw: dict[str, Any]) -> None:
    for name in [*_bff_services(raw), "sandbox"]:
        service = _services(raw)[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


# --- the replicas profile ----------------------------------------------------------------------


def _nginx_upstream_servers() -> list[str]:
    text = NGINX_CONF.read_text(encoding="utf-8")
    block = re.search(r"upstream\s+bff\s*\{(.*?)\}", text, flags=re.DOTALL)
    assert block, "deploy/nginx.conf has an `upstream bff` block"
    body = re.sub(r"#.*", "", block.group(1))
    assert not re.search(r"\b(least_conn|ip_hash|hash|random)\b", body), "round robin"
    return re.findall(r"^\s*server\s+(\S+?)(?:\s[^;]*)?;", body, flags=re.MULTILINE)


def test_replicas_share_one_redis_and_one_set_of_keys(
    raw: dict[str, Any], demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    replicas = {
        name: s for name, s in _profile(demo, "replicas").items() if name in _bff_services(demo)
    }
    assert len(replicas) >= 2
    redis_services = [
        n for n, s in _services(raw).items() if s.get("image", "").startswith("redis:")
    ]
    assert redis_services == ["redis"], "exactly one Redis"
    assert not _services(raw)["redis"].get("profiles"), "Redis runs in every profile"
    settings = [_settings_of(environment(service), monkeypatch) for service in replicas.values()]
    urls = {s.redis_url.get_secret_value() for s in settings if s.redis_url is not None}
    assert len(urls) == 1
    assert len([s for s in settings if s.redis_url]) == len(settings)
    assert urlsplit(urls.pop()).hostname == "redis"
    # A cookie signed by one replica verifies on the other; a ticket spent on one is spent.
    assert len({tuple(k.get_secret_value() for k in s.session_keys) for s in settings}) == 1
    assert len({s.public_url for s in settings}) == 1
    assert len({s.redis_prefix for s in settings}) == 1


def test_load_balancer_fronts_exactly_the_replicas(
    demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = _services(demo)
    profile = _profile(demo, "replicas")
    replicas = sorted(name for name in profile if name in _bff_services(demo))
    balancers = [name for name, s in profile.items() if s.get("image", "").startswith("nginx:")]
    assert balancers == ["lb"]
    lb = services["lb"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in lb["volumes"]
    assert sorted(_nginx_upstream_servers()) == sorted(f"{name}:8000" for name in replicas)
    assert set(lb["depends_on"]) == set(replicas)

    # Forwarded headers: set by nginx, believed by the replicas from the balancer's address only.
    text = re.sub(r"#.*", "", NGINX_CONF.read_text(encoding="utf-8"))
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", text)
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", text)
    ((network, address),) = lb["networks"].items()
    lb_ip = ipaddress.ip_address(address["ipv4_address"])
    subnets = [item["subnet"] for item in demo["networks"][network]["ipam"]["config"]]
    assert any(lb_ip in ipaddress.ip_network(subnet) for subnet in subnets)
    for name in replicas:
        assert network in services[name]["networks"], f"{name} is on the balancer's network"
        settings = _settings_of(environment(services[name]), monkeypatch)
        assert settings.forwarded_allow_ips == [str(lb_ip)], name
        # Browsers reach the replicas through the balancer.
        assert settings.public_url == f"http://localhost:{lb['ports'][0].rsplit(':', 1)[1]}"

    # The balancer's own healthcheck path exists in its configuration.
    check_url = lb["healthcheck"]["test"][-1]
    assert f"location = {urlsplit(check_url).path} " in text
    assert f"listen {urlsplit(check_url).port};" in text


def test_default_services_do_not_need_the_replicas_profile(raw: dict[str, Any]) -> None:
    plain = {name for name, s in _services(raw).items() if not s.get("profiles")}
    assert plain == {"bff", "sandbox", "redis"}


def test_the_compose_header_names_every_required_variable() -> None:
    header = COMPOSE.read_text(encoding="utf-8").split("\nname:", 1)[0]
    for secret in REQUIRED_SECRETS:
        assert re.search(rf"^#\s+{secret}\s", header, flags=re.MULTILINE), secret
    assert "docker compose --env-file deploy/demo.env up" in header
    assert "--profile replicas" in header
