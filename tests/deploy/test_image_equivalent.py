"""The image, without Docker: replay the Dockerfile's build steps as a non-root user into a fresh
virtual environment, then start its CMD exactly and stop it as docker would.

No Docker engine runs on CI's machines, so this is the proof that the image's steps work:

* the build context is the files the Dockerfile COPYs, filtered by .dockerignore;
* the build stage's instructions (WORKDIR, ENV, COPY, RUN) run in order, each RUN through
  ``/bin/sh -c`` as in the image, with the image's absolute paths (/opt/venv, /src) mapped into a
  temporary folder. The one other difference: pip reads the packages from a wheelhouse filled
  beforehand (PIP_NO_INDEX, PIP_FIND_LINKS), so the replay needs no network and no cache;
* then the virtual environment is handed to root, read-only, as COPY --from leaves it, and the
  runtime stage's CMD starts as the image's USER (UID/GID 10001) in an empty root-owned folder,
  with only the runtime ENV and the BFF_* variables, the port swapped for a free one;
* the image's HEALTHCHECK command answers, SIGTERM drains (/readyz 503) and the process exits 0.

What this cannot prove: that the base image tag exists and builds the same on Docker's side
(a Debian 3.11 interpreter stands in for python:3.11.x-slim), the container's network and file
system (read_only, tmpfs), and docker's own signal delivery and stop timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sandbox import seed
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxSettings
from tests.deploy.conftest import ROOT, cannot_run
from tests.deploy.dockerfile import (
    DockerfileError,
    Instruction,
    Stage,
    context_files,
    read_dockerfile,
    read_dockerignore,
)
from tests.support.servers import serve
from tests.support.settings import SESSION_KEY, TICKET_SECRET

DRAIN_SECONDS = 1.5
GRACE_SECONDS = 4
STEP_TIMEOUT = 300
# What the python:3.11-slim image has on PATH besides the virtual environment.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEV_TOOLS = ("pytest", "ruff", "mypy", "hadolint", "playwright", "check_jsonschema", "httpx2")


@dataclass
class Replay:
    """A build being replayed: where the image's paths are, its ENV so far, and who builds."""

    uid: int
    gid: int
    prefix: list[str]  # runs a command as uid:gid (empty when the tests already run unprivileged)
    paths: dict[str, Path] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def host_path(self, image_path: str) -> Path:
        for image_prefix, host in sorted(self.paths.items(), key=lambda kv: -len(kv[0])):
            if image_path == image_prefix or image_path.startswith(image_prefix + "/"):
                return host / image_path[len(image_prefix) :].lstrip("/")
        raise AssertionError(f"the replay has no place for the image path {image_path}")

    def map_text(self, text: str) -> str:
        """Image paths in a command or ENV value, rewritten to their places in the replay."""
        for image_prefix, host in sorted(self.paths.items(), key=lambda kv: -len(kv[0])):
            text = re.sub(
                rf"(?<![\w/.]){re.escape(image_prefix)}(?=/|\s|$|[\"':;])", str(host), text
            )
        return text

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            return self.env.get(match.group(1) or match.group(2), "")

        return re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", value, text)

    def give(self, path: Path) -> None:
        """Hand ``path`` (recursively) to the build user, as root-run builds own their files."""
        if os.geteuid() != 0:
            return
        for item in [path, *path.rglob("*")]:
            os.lchown(item, self.uid, self.gid)

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], what: str) -> str:
        result = subprocess.run(
            [*self.prefix, *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{output[-4000:]}"
        return result.stdout


# --- preparing the replay -------------------------------------------------------------------------


def _drop_privileges(uid: int, gid: int) -> list[str]:
    if os.geteuid() != 0:
        return []  # already unprivileged: run as we are
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        cannot_run("running as root and setpriv (util-linux) is missing: cannot drop to a user")
    return [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def _interpreter(version: tuple[int, int], prefix: list[str]) -> Path:
    """A CPython of the image's major.minor that the unprivileged user can run, with venv."""
    name = f"python{version[0]}.{version[1]}"
    candidates = [
        Path(getattr(sys, "_base_executable", sys.executable)),
        *(Path(d) / name for d in ("/usr/local/bin", "/usr/bin", "/bin")),
    ]
    probe = "import ensurepip, sys, venv; print('%d.%d' % sys.version_info[:2])"
    tried = []
    for candidate in candidates:
        if not candidate.exists():
            continue
        # Through /bin/sh, as a RUN line would start it (and as the virtual environment will).
        result = subprocess.run(
            [*prefix, "/bin/sh", "-c", f"{shlex.quote(str(candidate))} -c {shlex.quote(probe)}"],
            capture_output=True,
            text=True,
            cwd="/",
            env={"PATH": IMAGE_PATH},
            timeout=30,
            check=False,
        )
        if result.returncode == 0 and result.stdout.strip() == f"{version[0]}.{version[1]}":
            return candidate
        tried.append(f"{candidate}: {(result.stderr or result.stdout).strip()[-200:]}")
    cannot_run(f"no {name} with venv that an unprivileged user can run; tried {tried}")


def _fill_wheelhouse(wheelhouse: Path, interpreter: Path) -> None:
    """The project's locked runtime and build requirements as files, so the replay needs no index.

    Downloaded by the replay's own interpreter (with this machine's pip configuration and
    cache), so that markers such as ``python_full_version < "3.11.3"`` resolve for it.
    """
    # The lock files the Dockerfile installs from, with their hashes: the same files, or none.
    requirements = ["--require-hashes"]
    for lock in ("runtime", "build"):
        requirements += ["--requirement", str(ROOT / "requirements" / f"{lock}.txt")]
    python = interpreter
    has_pip = subprocess.run(
        [str(python), "-m", "pip", "--version"], capture_output=True, timeout=60, check=False
    )
    if has_pip.returncode != 0:  # an interpreter without pip: borrow ensurepip's in a venv
        helper = wheelhouse.parent / "download-venv"
        subprocess.run([str(python), "-m", "venv", str(helper)], check=True, timeout=STEP_TIMEOUT)
        python = helper / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "download", "--quiet", "--dest", str(wheelhouse), *requirements],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"pip download failed:\n{result.stderr[-4000:]}"


def _build_context(destination: Path) -> Path:
    """The files Docker would send: only the COPY sources' files, filtered by .dockerignore."""
    files = context_files(ROOT, read_dockerignore(ROOT / ".dockerignore"))
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
        target.chmod(0o644)
    for directory in [destination, *[p for p in destination.rglob("*") if p.is_dir()]]:
        directory.chmod(0o755)
    return destination


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="mbff-image-"))
    try:
        root.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- replaying the build stage --------------------------------------------------------------------


def _copy(replay: Replay, context: Path, instruction: Instruction) -> None:
    flags, sources, destination = instruction.copy_paths()
    assert not flags, f"line {instruction.line}: COPY options are not replayed: {flags}"
    assert replay.cwd is not None
    target = replay.cwd / destination if not destination.startswith("/") else None
    target = target if target is not None else replay.host_path(destination)
    for source in sources:
        origin = context / source
        assert origin.exists(), f"line {instruction.line}: {source} is not in the build context"
        if origin.is_dir():
            place = (
                target if len(sources) == 1 and not destination.endswith("/") else target / source
            )
            shutil.copytree(origin, place, dirs_exist_ok=True)
            replay.give(place)
        else:
            # Docker copies a file into a folder destination under its own name, not its path.
            place = target / Path(source).name if destination.endswith("/") else target
            place.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, place)
            replay.give(place)


def _replay_build(replay: Replay, stage: Stage, context: Path, pip_env: dict[str, str]) -> None:
    for instruction in stage.instructions:
        keyword = instruction.keyword
        if keyword == "WORKDIR":
            replay.cwd = replay.host_path(instruction.value)
            replay.cwd.mkdir(parents=True, exist_ok=True)
            replay.give(replay.cwd)
        elif keyword == "ENV":
            for key, value in instruction.env_pairs():
                replay.env[key] = replay.expand(replay.map_text(value))
        elif keyword == "COPY":
            _copy(replay, context, instruction)
        elif keyword == "RUN":
            assert replay.cwd is not None
            command = replay.map_text(instruction.value)
            replay.run(
                ["/bin/sh", "-c", command],
                cwd=replay.cwd,
                env={**replay.env, **pip_env},
                what=f"RUN (line {instruction.line}) {command}",
            )
        else:
            raise DockerfileError(
                f"line {instruction.line}: the replay does not know {keyword}; teach "
                "tests/deploy/test_image_equivalent.py, or the image is no longer proven"
            )


# --- the running service --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))  # noqa: S104 - the CMD binds 0.0.0.0; find a port free there
        port: int = sock.getsockname()[1]
        return port


def _with_port(argv: list[str], port: int) -> list[str]:
    index = argv.index("--port")
    return [*argv[: index + 1], str(port), *argv[index + 2 :]]


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=1) as client:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the service exited ({process.returncode}):\n{log.read_text()[-4000:]}"
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer 200 in {seconds} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)


def _status_uids(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    line = next(row for row in text.splitlines() if row.startswith("Uid:"))
    return [int(value) for value in line.split()[1:]]


def _installed_files(site: Path, package: str) -> set[str]:
    return {
        path.relative_to(site / package).as_posix()
        for path in (site / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_steps_install_and_start_the_service_as_non_root() -> None:
    stages = read_dockerfile(ROOT / "Dockerfile")
    build, runtime = stages[0], stages[-1]
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim-\w+", build.base)
    assert match, build.base
    version = (int(match.group(1)), int(match.group(2)))
    assert version == sys.version_info[:2], "the image's Python major.minor is the tests' one"
    user = runtime.last("USER").value
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0
    assert gid != 0
    cmd = runtime.one("CMD").exec_form()
    # What the runtime stage may do and this test mirrors; the one RUN creates the user, whose
    # UID/GID the test runs as (without a passwd entry, which the service does not need).
    mirrored = {"LABEL", "RUN", "COPY", "ENV", "WORKDIR", "USER", "EXPOSE", "HEALTHCHECK"}
    mirrored |= {"STOPSIGNAL", "CMD"}
    unknown = [item for item in runtime.instructions if item.keyword not in mirrored]
    assert not unknown, f"the runtime stage does something this test does not mirror: {unknown}"
    (user_setup,) = runtime.all("RUN")
    assert shlex.split(user_setup.value)[0] == "groupadd", user_setup.value
    (venv_copy,) = runtime.all("COPY")
    copy_flags, (venv_source,), venv_target = venv_copy.copy_paths()
    assert copy_flags == {"from": build.name}
    assert venv_source == venv_target

    timings: dict[str, float] = {}
    started = time.monotonic()
    prefix = _drop_privileges(uid, gid)
    if not prefix:
        uid, gid = os.getuid(), os.getgid()
    interpreter = _interpreter(version, prefix)

    with _scratch() as scratch:
        context = _build_context(scratch / "context")
        wheelhouse = scratch / "wheels"
        _fill_wheelhouse(wheelhouse, interpreter)
        timings["context and wheelhouse"] = time.monotonic() - started

        # The image's file system, as far as the build touches it.
        shim = scratch / "base-bin"  # `python` on PATH is the base interpreter, as in the image
        shim.mkdir()
        for name in ("python", "python3", f"python{version[0]}.{version[1]}"):
            (shim / name).symlink_to(interpreter)
        image_root = scratch / "image"
        for folder in ("opt", "src", "srv"):
            (image_root / folder).mkdir(parents=True)
        (image_root / "opt").chmod(0o755)
        replay = Replay(
            uid=uid,
            gid=gid,
            prefix=prefix,
            paths={
                venv_source: image_root / venv_source.lstrip("/"),
                build.one("WORKDIR").value: image_root / "src",
                runtime.one("WORKDIR").value: image_root / "srv",
            },
            env={
                "PATH": f"{shim}:{IMAGE_PATH}",
                "HOME": "/nonexistent",
                "LANG": "C.UTF-8",
            },
        )
        replay.give(image_root / "opt")
        pip_env = {
            "PIP_CONFIG_FILE": os.devnull,  # the image has no pip configuration
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
        }
        _replay_build(replay, build, context, pip_env)
        timings["build stage replay"] = time.monotonic() - started - sum(timings.values())

        # COPY --from=build: root owns the copy; the service cannot write into its own files.
        venv = replay.host_path(venv_source)
        if os.geteuid() == 0:
            for item in [venv, *venv.rglob("*")]:
                os.lchown(item, 0, 0)
        subprocess.run(["chmod", "-R", "go-w", str(venv)], check=True)
        python = venv / "bin" / "python"

        # What went in: the project, non-editable, its static files, compiled; no dev tools.
        site = Path(
            replay.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=image_root / "srv",
                env={"PATH": IMAGE_PATH},
                what="site-packages",
            ).strip()
        )
        for package in ("app", "sandbox"):
            expected = {
                path.relative_to(context / package).as_posix()
                for path in (context / package).rglob("*")
                if path.is_file()
            }
            assert _installed_files(site, package) == expected, f"{package} is installed whole"
            assert list((site / package).rglob("__pycache__/*.pyc")), "bytecode compiled"
        assert not list(site.glob("*.pth")) or all(
            str(ROOT) not in pth.read_text() for pth in site.glob("*.pth")
        ), "not an editable install"
        installed = {path.name.lower() for path in site.iterdir()}
        for tool in DEV_TOOLS:
            assert not any(name.startswith(tool) for name in installed), f"{tool} is in the image"
        assert "httptools" in installed, "httptools (uvicorn[standard]) is missing"

        # The runtime stage: its ENV, WORKDIR, USER and CMD, and the service's configuration.
        runtime_env = {"PATH": IMAGE_PATH, "HOME": "/nonexistent", "LANG": "C.UTF-8"}
        for instruction in runtime.all("ENV"):
            for key, value in instruction.env_pairs():
                runtime_env[key] = replay.map_text(
                    re.sub(r"\$\{?PATH\}?", runtime_env["PATH"], value)
                )
        workdir = replay.host_path(runtime.one("WORKDIR").value)
        assert os.listdir(workdir) == [], "the runtime WORKDIR is empty (no .env to read)"
        port = _free_port()
        argv = _with_port(cmd, port)
        assert argv[0] == "meetergo-bff"
        log = scratch / "service.log"
        with contextlib.ExitStack() as stack:
            sandbox_settings = SandboxSettings(public_url="http://127.0.0.1:9")
            upstream = stack.enter_context(serve(create_sandbox_app(sandbox_settings)))
            env = {
                **runtime_env,
                "BFF_PUBLIC_URL": "https://calendar.test",
                "BFF_MEETERGO_BASE_URL": upstream.url,
                "BFF_MEETERGO_API_KEY": seed.MEMBER_KEY,
                "BFF_SESSION_KEYS": SESSION_KEY,
                "BFF_TICKET_SECRET": TICKET_SECRET,
                "BFF_SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
                "BFF_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
            }
            output = stack.enter_context(log.open("wb"))
            service_started = time.monotonic()
            process = subprocess.Popen(
                [*prefix, *argv], cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
            )
            stack.callback(_kill, process)
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/healthz", process, log, seconds=30)
            _wait_for(f"{base}/readyz", process, log, seconds=10)
            timings["service start"] = time.monotonic() - service_started

            # It runs as the image's user, with httptools, on asyncio's loop (app/server.py).
            assert _status_uids(process.pid) == [uid] * 4
            maps = Path(f"/proc/{process.pid}/maps").read_text(encoding="ascii", errors="replace")
            assert "/uvloop/" not in maps, "the service runs on asyncio's loop, not uvloop"
            assert "/httptools/" in maps, "uvicorn's http auto picks httptools"
            with httpx.Client(base_url=base, timeout=5) as client:
                sdk = sorted((context / "app" / "static" / "sdk").rglob("*.js"))
                assert sdk, "the JS client ships in app/static/sdk"
                path = sdk[0].relative_to(context / "app" / "static").as_posix()
                assert client.get(f"/{path}").status_code == 200, "static files are installed"

            # The image's HEALTHCHECK command, against this port.
            _, check = runtime.one("HEALTHCHECK").healthcheck()
            check = [part.replace(":8000/", f":{port}/") for part in check]
            healthy = subprocess.run(
                [*prefix, *check], cwd=workdir, env=runtime_env, timeout=10, check=False
            )
            assert healthy.returncode == 0, "the image's HEALTHCHECK fails"

            # docker stop: SIGTERM, then the drain and the grace period.
            stopped = time.monotonic()
            process.send_signal(getattr(signal, runtime.one("STOPSIGNAL").value))
            saw_not_ready = False
            with httpx.Client(base_url=base, timeout=1) as client:
                while time.monotonic() - stopped < DRAIN_SECONDS * 0.8:
                    ready = client.get("/readyz")
                    if ready.status_code == 503:
                        assert ready.json()["checks"]["shutdown"] == "in progress"
                        assert client.get("/healthz").status_code == 200, "still serving"
                        saw_not_ready = True
                        break
                    time.sleep(0.05)
            assert saw_not_ready, "/readyz did not turn 503 during the drain"
            code = process.wait(timeout=DRAIN_SECONDS + GRACE_SECONDS + 5)
            elapsed = time.monotonic() - stopped
            timings["drain and exit"] = elapsed
            assert code == 0, log.read_text()[-4000:]
            assert DRAIN_SECONDS * 0.9 <= elapsed <= DRAIN_SECONDS + GRACE_SECONDS, elapsed
            unhealthy = subprocess.run(
                [*prefix, *check],
                cwd=workdir,
                env=runtime_env,
                capture_output=True,
                timeout=10,
                check=False,
            )
            assert unhealthy.returncode == 1, "a stopped service fails the HEALTHCHECK"
        print(  # noqa: T201 - shown with -s: where the time goes
            "image replay timings: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
            + f"; argv {shlex.join(argv)}"
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
