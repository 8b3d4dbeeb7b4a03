"""Reading docker-compose.yml as compose would: YAML with merge keys, then ``${...}`` interpolation.

Interpolation follows the Compose Specification for the forms this project uses: ``$$``,
``$NAME``, ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?message}``,
``${NAME?message}``, ``${NAME:+replacement}`` and ``${NAME+replacement}`` (no nesting).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\})"
)


class MissingVariable(LookupError):
    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"required variable {name} is missing a value: {message}")


def variables_used(text: str) -> set[str]:
    """Every variable named by a ``${...}`` or ``$NAME`` reference in ``text``."""
    names = set()
    for match in _VARIABLE.finditer(text):
        name = match.group("name") or match.group("plain")
        if name:
            names.add(name)
    return names


def interpolate_text(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(name, arg)
            return str(value)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    if "${" in text and "}" not in text:
        raise ValueError(f"unclosed ${{ in {text!r}")
    return _VARIABLE.sub(replace, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """The compose model with every string interpolated (keys stay as written)."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if isinstance(node, str):
        return interpolate_text(node, env)
    return node


def load_compose(path: Path) -> dict[str, Any]:
    """The file's model, YAML anchors and merge keys resolved, not yet interpolated."""
    model = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(model, dict)
    return model


def read_env_file(path: Path) -> dict[str, str]:
    """A compose ``--env-file``: KEY=VALUE lines, comments and blank lines ignored."""
    values = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: {raw!r} is not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping (compose accepts a mapping or KEY=VALUE items)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def duration_seconds(text: str) -> float:
    """A compose duration such as ``30s``, ``1m30s`` or ``1500ms``, in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a compose duration")
    return sum(float(number) * units[unit] for number, unit in parts)
