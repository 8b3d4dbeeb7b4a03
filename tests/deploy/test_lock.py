"""The lock files agree with pyproject.toml, and every install goes through them.

``scripts/lock`` writes requirements/{runtime,dev,build}.txt from pyproject.toml with uv. These
tests need no network: they read the files. They fail when someone edits pyproject.toml's
dependencies without re-locking (a package added, removed, or a range the pin no longer meets),
or when an install path stops installing from the lock with hashes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PROJECT = "meetergo-calendar-bff"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: int
    sources: tuple[str, ...]  # the "# via" annotation


def read_lock(path: Path) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", path.read_text(encoding="utf-8"))
    for block in blocks:
        match = _PIN.match(block)
        if match is None:
            assert not block.strip() or block.lstrip().startswith("#"), block[:200]
            continue
        via = re.search(r"# via (.*)", block)
        sources = tuple(s.strip() for s in via.group(1).split(",")) if via else ()
        name = canonicalize_name(match.group(1))
        pins[name] = Pin(name, match.group(3), block.count("--hash=sha256:"), sources)
    return pins


def project() -> dict[str, list[Requirement]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        "runtime": [Requirement(r) for r in data["project"]["dependencies"]],
        "dev": [Requirement(r) for r in data["project"]["optional-dependencies"]["dev"]],
        "build": [Requirement(r) for r in data["build-system"]["requires"]],
    }


LOCK_INPUTS = {
    "runtime.txt": ("runtime",),
    "dev.txt": ("runtime", "dev"),
    "build.txt": ("build",),
}


@pytest.mark.parametrize("lock", list(LOCK_INPUTS))
def test_every_requirement_of_pyproject_is_locked_at_a_version_it_allows(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    wanted = [req for group in LOCK_INPUTS[lock] for req in project()[group]]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements/{lock}: run scripts/lock"
        version = pins[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, outside {requirement}: run scripts/lock"
        )


@pytest.mark.parametrize("lock", ["runtime.txt", "dev.txt"])
def test_the_lock_holds_no_top_level_package_that_pyproject_dropped(lock: str) -> None:
    wanted = {
        canonicalize_name(req.name) for group in LOCK_INPUTS[lock] for req in project()[group]
    }
    top_level = {
        pin.name
        for pin in read_lock(LOCKS / lock).values()
        if any(source.startswith(PROJECT) for source in pin.sources)
    }
    assert top_level == wanted, "pyproject.toml and the lock disagree: run scripts/lock"


@pytest.mark.parametrize("lock", list(LOCK_INPUTS))
def test_every_pin_is_exact_and_carries_hashes(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    assert len(pins) >= 5
    for pin in pins.values():
        assert pin.hashes >= 1, f"{pin.name} has no hash in requirements/{lock}"


def test_runtime_build_and_dev_locks_agree_on_shared_packages() -> None:
    dev = read_lock(LOCKS / "dev.txt")
    for lock in ("runtime.txt", "build.txt"):
        for pin in read_lock(LOCKS / lock).values():
            if pin.name in dev:
                assert dev[pin.name].version == pin.version, (lock, pin.name)


def test_uvicorn_is_pinned_exactly_because_the_server_subclass_overrides_its_internals() -> None:
    (uvicorn,) = [r for r in project()["runtime"] if r.name == "uvicorn"]
    (spec,) = list(uvicorn.specifier)
    assert spec.operator == "==", "app/server.py overrides undocumented uvicorn.Server methods"
    assert read_lock(LOCKS / "runtime.txt")["uvicorn"].version == spec.version


def test_every_install_goes_through_the_lock_with_hashes() -> None:
    install = (ROOT / "scripts" / "install").read_text(encoding="utf-8")
    assert "--require-hashes" in install
    assert "--requirement requirements/dev.txt --requirement requirements/build.txt" in install
    assert "--no-deps --no-build-isolation -e ." in install
    assert "'.[dev]'" not in install, "an install that resolves ranges again"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.count("--require-hashes") == 2  # the runtime, and hatchling
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/install" in ci
