"""The npm package in clients/js: its own tests, its types, its pack, and the served copy.

Node's test runner runs the package's unit tests (clients/js/test/); ``tsc --strict`` checks that a
TypeScript consumer of the documented API compiles and that a misspelt field does not; ``npm pack``
shows what an app would install; and the copy the service serves (app/static/sdk/v1/) must be
exactly the package's lib/ (``npm run build`` in clients/js refreshes it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.redis import in_ci

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "js"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (PACKAGE / "node_modules" / "typescript").is_dir():
        reason = "Node.js or clients/js/node_modules is missing (scripts/install runs npm ci)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=PACKAGE, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_packages_unit_tests_pass_under_nodes_test_runner() -> None:
    result = _run(_node(), "--test", "test/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert "# pass " in result.stdout


def test_a_typescript_consumer_compiles_strictly_and_a_typo_does_not() -> None:
    result = _run(_node(), "scripts/typecheck.mjs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "consumer.ts compiles with tsc --strict" in result.stdout
    assert "typo.ts is refused (TS2561)" in result.stdout
    assert "typo-read.ts is refused (TS2551)" in result.stdout


def test_the_served_copy_is_exactly_the_packages_build() -> None:
    result = _run(_node(), "scripts/build.mjs", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_npm_pack_yields_the_modules_their_types_and_the_readme_only() -> None:
    _node()
    npm = shutil.which("npm")
    assert npm is not None
    result = _run(npm, "pack", "--dry-run", "--json", "--ignore-scripts")
    assert result.returncode == 0, result.stderr
    (packed,) = json.loads(result.stdout)
    names = {entry["path"] for entry in packed["files"]}
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert packed["name"] == manifest["name"] == "@meetergo/calendar-bff-client"
    assert packed["version"] == manifest["version"]
    for needed in (
        "package.json",
        "README.md",
        "lib/calendar.js",
        "lib/calendar.d.ts",
        "lib/settings-element.js",
        "lib/settings-element.d.ts",
        "lib/i18n/en.js",
        "lib/i18n/de.js",
    ):
        assert needed in names
    assert not any(name.startswith(("test/", "types-test/", "node_modules/")) for name in names)
    # Every export the manifest promises is in the tarball.
    for target in manifest["exports"].values():
        paths = [target] if isinstance(target, str) else list(target.values())
        for path in paths:
            assert path.removeprefix("./") in names, path


def test_the_packed_tarball_installs_and_imports_under_node(tmp_path: Path) -> None:
    node = _node()
    npm = shutil.which("npm")
    assert npm is not None
    packed = _run(npm, "pack", "--json", "--ignore-scripts", "--pack-destination", str(tmp_path))
    assert packed.returncode == 0, packed.stderr
    tarball = tmp_path / json.loads(packed.stdout)[0]["filename"]
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "some-app", "private": true, "type": "module"}')
    installed = subprocess.run(  # the package has no dependencies: nothing is fetched
        [npm, "install", str(tarball), "--offline", "--no-audit", "--no-fund"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    script = (
        'const client = await import("@meetergo/calendar-bff-client");'
        'const element = await import("@meetergo/calendar-bff-client/settings-element");'
        'const i18n = await import("@meetergo/calendar-bff-client/i18n");'
        'const c = client.createCalendarClient({ baseUrl: "https://calendar.example.test" });'
        "console.log(JSON.stringify([client.VERSION, typeof c.reconnect, element.TAG_NAME,"
        ' element.defineCalendarSettings(), i18n.resolveLocale("de-CH")]));'
    )
    imported = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    version = json.loads((PACKAGE / "package.json").read_text())["version"]
    assert json.loads(imported.stdout) == [
        version,
        "function",
        "meetergo-calendar-settings",
        False,
        "de",
    ]
