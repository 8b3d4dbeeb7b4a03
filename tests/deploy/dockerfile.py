"""Just enough of Docker's file formats to check and replay ours: Dockerfile and .dockerignore.

The parser follows Docker's rules for what this project uses: one instruction per logical line,
backslash continuations (comment lines inside a continuation are dropped, as Docker drops them),
exec form (a JSON array) or shell form, ``--flag=value`` options, ``KEY=VALUE`` pairs. Anything it
does not understand is an error, so a new construct in the Dockerfile fails a test instead of being
silently ignored.

The ``.dockerignore`` matcher follows moby's patternmatcher: patterns relative to the context,
``*``/``?``/``[...]`` within one path segment, ``**`` across segments, ``!`` re-includes, the last
matching pattern wins, and a pattern that matches a folder matches everything in it.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_FLAG = re.compile(r"--([a-z-]+)=(\S*)")


class DockerfileError(ValueError):
    """The Dockerfile uses something this parser does not understand."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int

    def split_flags(self) -> tuple[dict[str, str], str]:
        """Leading ``--name=value`` options, and the rest of the arguments."""
        flags: dict[str, str] = {}
        rest = self.value
        while rest.startswith("--"):
            match = _FLAG.match(rest)
            if match is None:
                raise DockerfileError(f"line {self.line}: cannot read the option in {rest!r}")
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end() :].lstrip()
        return flags, rest

    def exec_form(self) -> list[str]:
        """The arguments as a JSON array (CMD, ENTRYPOINT, HEALTHCHECK CMD); error otherwise."""
        return parse_exec_form(self.value, self.line)

    def copy_paths(self) -> tuple[dict[str, str], list[str], str]:
        """COPY's options, sources and destination."""
        flags, rest = self.split_flags()
        parts = parse_exec_form(rest, self.line) if rest.startswith("[") else shlex.split(rest)
        if len(parts) < 2:
            raise DockerfileError(f"line {self.line}: COPY needs a source and a destination")
        return flags, parts[:-1], parts[-1]

    def env_pairs(self) -> list[tuple[str, str]]:
        """ENV's or LABEL's ``KEY=VALUE`` pairs, quotes removed, ``$VAR`` left unexpanded."""
        tokens = shlex.split(self.value)
        if tokens and "=" not in tokens[0]:
            raise DockerfileError(f"line {self.line}: use the KEY=VALUE form of {self.keyword}")
        pairs = []
        for token in tokens:
            key, sep, value = token.partition("=")
            if not sep:
                raise DockerfileError(f"line {self.line}: {token!r} is not KEY=VALUE")
            pairs.append((key, value))
        return pairs

    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        """HEALTHCHECK's options and the command (exec form)."""
        flags, rest = self.split_flags()
        keyword, _, command = rest.partition(" ")
        if keyword != "CMD":
            raise DockerfileError(f"line {self.line}: expected HEALTHCHECK [options] CMD [...]")
        return flags, parse_exec_form(command.strip(), self.line)


def parse_exec_form(text: str, line: int) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        raise DockerfileError(f"line {line}: {text!r} is not a JSON array (exec form)") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DockerfileError(f"line {line}: {text!r} is not a JSON array of strings")
    return value


@dataclass
class Stage:
    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if len(found) != 1:
            raise DockerfileError(f"stage {self.name}: expected one {keyword}, found {len(found)}")
        return found[0]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise DockerfileError(f"stage {self.name}: no {keyword}")
        return found[-1]


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, instruction text) with continuations joined and comments dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            if stripped.startswith("#") and not pending and number == 1 and "=" in stripped:
                raise DockerfileError(f"parser directives are not supported: {stripped!r}")
            continue
        if not stripped:
            continue  # an empty line inside a continuation, dropped as Docker does
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        yield start, "".join(pending).strip()
        pending = []
    if pending:
        raise DockerfileError("the Dockerfile ends inside a continuation")


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line, content in logical_lines(text):
        keyword, _, value = content.partition(" ")
        keyword = keyword.upper()
        value = value.strip()
        if "<<" in value and keyword in ("RUN", "COPY"):
            raise DockerfileError(f"line {line}: heredocs are not supported by this parser")
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", value, flags=re.IGNORECASE)
            if match is None:
                raise DockerfileError(f"line {line}: cannot read FROM {value!r}")
            stages.append(Stage(base=match.group(1), name=match.group(2), line=line))
            continue
        if not stages:
            raise DockerfileError(f"line {line}: {keyword} before the first FROM")
        stages[-1].instructions.append(Instruction(keyword, value, line))
    return stages


def read_dockerfile(path: Path) -> list[Stage]:
    return parse_dockerfile(path.read_text(encoding="utf-8"))


# --- .dockerignore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    exclusion: bool  # a "!" line: re-include
    regex: re.Pattern[str]


def _segment_regex(pattern: str) -> str:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            if pattern.startswith("**", index):
                index += 2
                if pattern.startswith("/", index):
                    out.append("(?:.*/)?")
                    index += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                raise ValueError(f"unclosed [ in .dockerignore pattern {pattern!r}")
            out.append(pattern[index : end + 1])  # Go's [...] and [^...] read as in a regex
            index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def read_dockerignore(path: Path) -> list[IgnorePattern]:
    patterns = []
    if not path.exists():
        return patterns
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        text = line[1:].strip() if exclusion else line
        text = posixpath.normpath(text).lstrip("/")
        if text == ".":
            continue
        patterns.append(
            IgnorePattern(line, exclusion, re.compile(f"^{_segment_regex(text)}$", re.DOTALL))
        )
    return patterns


def is_ignored(relative: str, patterns: list[IgnorePattern]) -> bool:
    """Whether a path (relative to the context, with /) is left out of the build context."""
    parents = []
    head = relative
    while "/" in head:
        head = head.rsplit("/", 1)[0]
        parents.append(head)
    matched = False
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        if pattern.regex.match(relative) or any(pattern.regex.match(p) for p in parents):
            matched = not pattern.exclusion
    return matched


def context_files(root: Path, patterns: list[IgnorePattern]) -> list[str]:
    """Every file Docker would send as the build context, relative to ``root``, sorted."""
    reincluded = [p.text[1:].strip().lstrip("/") for p in patterns if p.exclusion]
    files = []
    for directory, dirnames, filenames in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        kept = []
        for name in dirnames:
            relative = prefix + name
            # Skip a whole ignored folder (.venv, .git) unless a "!" pattern could reach into it.
            could_reinclude = any(
                text.startswith(relative + "/") or not re.match(r"[^*?\[]", text)
                for text in reincluded
            )
            if is_ignored(relative, patterns) and not could_reinclude:
                continue
            kept.append(name)
        dirnames[:] = kept
        files += [prefix + name for name in filenames if not is_ignored(prefix + name, patterns)]
    return sorted(files)
