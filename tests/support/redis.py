"""The Redis server that Redis-backed tests use: skipped when none answers, a failure in CI.

The server is ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, the one ``scripts/test``
starts). Not ``BFF_``-prefixed on purpose: ``tests/conftest.py`` hides those from every test.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_URL_VARIABLE = "TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_PROBE_TIMEOUT = 0.5


@contextlib.contextmanager
def key_space(url: str) -> Iterator[str]:
    """A key prefix of the test's own on the Redis at ``url``; its keys are deleted afterwards."""
    prefix = f"mbff-test-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def redis_url_or_skip() -> str:
    """The test Redis URL when a server answers there; otherwise skip the test, or fail it in CI.

    CI always provides Redis, so there a missing server must fail the run instead of turning the
    Redis tests into silent skips.
    """
    url = os.environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL
    problem = _probe(url)
    if problem is None:
        return url
    message = (
        f"no Redis answers at {_where(url)} ({problem}); start redis-server "
        f"or set {REDIS_URL_VARIABLE}"
    )
    if in_ci():
        pytest.fail(f"{message}. CI always has Redis, so this is a failure.", pytrace=False)
    pytest.skip(message)


def in_ci() -> bool:
    """Whether the ``CI`` variable is set (``false`` and ``0`` count as unset)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@functools.cache
def _probe(url: str) -> str | None:
    """None when Redis at ``url`` answers PING, else what went wrong. Asked once per URL."""
    client = redis.Redis.from_url(
        url,
        socket_timeout=_PROBE_TIMEOUT,
        socket_connect_timeout=_PROBE_TIMEOUT,
        retry=Retry(NoBackoff(), retries=0),
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return type(exc).__name__
    finally:
        client.close()
    return None


def _where(url: str) -> str:
    # Host and port only: a test URL can still carry a password.
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else f"{parts.scheme}://..."


class OwnRedis:
    """A ``redis-server`` of the test's own, on a free port, without persistence.

    For tests that stop, freeze, restart or empty Redis: never the shared server on 6379. The
    server is stopped by :meth:`stop` (``with`` does it), and :meth:`restart` brings it back
    empty, as a Redis without persistence comes back after a crash.
    """

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            message = "redis-server is not installed (apt-get install redis-server)"
            if in_ci():
                pytest.fail(f"{message}; CI always has it, so this is a failure.", pytrace=False)
            pytest.skip(message)
        self._executable = executable
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OwnRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except (redis.RedisError, OSError):
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        raise RuntimeError("the test's redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def restart_empty(self) -> None:
        """Kill the server and start it again: it comes back with no data at all."""
        self.stop()
        self.start()

    def freeze(self) -> None:
        """Stop the server without losing data: it holds connections and answers nothing."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)


class CuttableLink:
    """A TCP relay to Redis that a test can cut and restore: one replica's network partition.

    Redis keeps running with its data; only the clients connected through this link lose it.
    While cut, new connections are refused and open ones are closed.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> CuttableLink:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, []
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave the port
            # listening until it returns.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


class HeldAnswers:
    """A TCP relay to Redis that can hold Redis's answers to ``MGET``: a read in flight.

    While :meth:`hold` is on, the answer to any ``MGET`` a client sends through the relay waits
    in the relay until :meth:`release`; everything else (the subscription's notices, health
    checks, other commands) passes. :meth:`wait_held` returns once such an answer is waiting, so
    a test knows Redis has answered the read and its client has not heard it yet.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._holding = False
        self._open = threading.Event()
        self._open.set()
        self._held = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> HeldAnswers:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def hold(self) -> None:
        self._held.clear()
        self._open.clear()
        self._holding = True

    def wait_held(self, timeout: float = 10) -> None:
        assert self._held.wait(timeout), "no MGET answer was held"

    def release(self) -> None:
        self._holding = False
        self._open.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            asked = threading.Event()  # this connection sent an MGET while holding
            threading.Thread(
                target=self._requests, args=(client, upstream, asked), daemon=True
            ).start()
            threading.Thread(
                target=self._answers, args=(upstream, client, asked), daemon=True
            ).start()

    def _requests(self, source: socket.socket, sink: socket.socket, asked: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if self._holding and b"MGET" in data.upper():
                    asked.set()
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _answers(self, source: socket.socket, sink: socket.socket, asked: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if asked.is_set():
                    self._held.set()
                    self._open.wait()
                    asked.clear()
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
