"""What only the Redis backend promises: replicas share it, failures are bounded and ours.

Tests marked ``redis`` need the test server; the failure tests make their own broken servers.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import anyio
import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from app.state.redis import RedisState
from app.state.store import SharedState, SharedStateUnavailable
from tests.state.conftest import LONG_TTL

pytestmark = pytest.mark.anyio

TIMEOUT = 0.3
# Refused at once: nothing may listen on port 1 without root, and nothing does on a test machine.
UNREACHABLE_URL = "redis://:s3cret-redis-pw@127.0.0.1:1/0"

Operation = Callable[[SharedState], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "add": lambda state: state.add("ticket:jti-4711", "used", LONG_TTL),
    "put": lambda state: state.put("ticket:jti-4711", "v", LONG_TTL),
    "get": lambda state: state.get("ticket:jti-4711"),
    "get_many": lambda state: state.get_many(["ticket:jti-4711", "other"]),
    "delete": lambda state: state.delete("ticket:jti-4711"),
    "incr": lambda state: state.incr("ticket:jti-4711", LONG_TTL),
}


# -- replicas ------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_two_instances_on_one_server_share_state_like_replicas(
    redis_url: str, key_space: str, redis_client: Redis
) -> None:
    first = RedisState.from_url(redis_url, prefix=f"{key_space}:a:")
    second = RedisState.from_url(redis_url, prefix=f"{key_space}:a:")
    try:
        assert await first.add("ticket:1", "used", LONG_TTL) is True
        assert await second.add("ticket:1", "used", LONG_TTL) is False

        await second.put("rev:sid:1", "1", LONG_TTL)
        assert await first.get_many(["rev:sid:1", "ticket:1"]) == ["1", "used"]

        assert await first.incr("budget", LONG_TTL) == 1
        assert await second.incr("budget", LONG_TTL) == 2

        await first.delete("rev:sid:1")
        assert await second.get("rev:sid:1") is None
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.redis
async def test_keys_live_under_the_prefix_with_the_ttl_asked_for(
    redis_state: RedisState, redis_client: Redis
) -> None:
    prefix = redis_state.prefix
    await redis_state.add("added", "a", 30)
    await redis_state.put("put", "p", 30)
    await redis_state.incr("counted", 30)

    assert await redis_client.get(f"{prefix}added") == b"a"
    assert await redis_client.get(f"{prefix}put") == b"p"
    assert await redis_client.get(f"{prefix}counted") == b"1"
    for key in ("added", "put", "counted"):
        assert 29_000 < await redis_client.pttl(f"{prefix}{key}") <= 30_000
    assert await redis_client.exists("added", "put", "counted") == 0


@pytest.mark.redis
async def test_incr_gives_a_counter_left_without_expiry_one(
    redis_state: RedisState, redis_client: Redis
) -> None:
    # A key without expiry (from another writer, or an old release) would otherwise live forever.
    await redis_client.set(f"{redis_state.prefix}budget", "5")
    assert await redis_state.incr("budget", 30) == 6
    assert 29_000 < await redis_client.pttl(f"{redis_state.prefix}budget") <= 30_000


@pytest.mark.redis
async def test_a_client_that_decodes_responses_works_the_same(
    redis_url: str, key_space: str, redis_client: Redis
) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        state = RedisState(client, prefix=f"{key_space}:a:")
        await state.put("k", "Grüße", LONG_TTL)
        assert await state.get("k") == "Grüße"
        assert await state.get_many(["k", "missing"]) == ["Grüße", None]
        assert await state.incr("n", LONG_TTL) == 1
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_more_concurrent_calls_than_connections_wait_for_a_free_one(
    redis_url: str, key_space: str, redis_client: Redis
) -> None:
    state = RedisState.from_url(redis_url, prefix=f"{key_space}:a:", max_connections=2)
    counts: list[int] = []

    async def increment() -> None:
        counts.append(await state.incr("budget", LONG_TTL))

    try:
        async with anyio.create_task_group() as tasks:
            for _ in range(20):
                tasks.start_soon(increment)
    finally:
        await state.aclose()
    assert sorted(counts) == list(range(1, 21))


# -- connections and closing ---------------------------------------------------------------------


async def _connections_named(client: Redis, name: str) -> int:
    return sum(1 for entry in await client.client_list() if entry.get("name") == name)


async def _wait_for_connections(client: Redis, name: str, expected: int) -> int:
    """The count of connections named ``name`` once it is ``expected``, or after 2 s."""
    # The server notices a closed socket on its next event loop turn, so poll for a moment.
    deadline = time.monotonic() + 2.0
    count = await _connections_named(client, name)
    for _ in range(200):
        if count == expected or time.monotonic() > deadline:
            break
        await anyio.sleep(0.01)
        count = await _connections_named(client, name)
    return count


@pytest.mark.redis
async def test_aclose_closes_the_connections_that_from_url_opened_but_not_a_views(
    redis_url: str, key_space: str, redis_client: Redis
) -> None:
    name = f"mbff-test-{uuid.uuid4().hex}"
    state = RedisState.from_url(redis_url, prefix=f"{key_space}:a:", client_name=name)
    await state.put("k", "v", LONG_TTL)
    assert await _connections_named(redis_client, name) == 1

    await state.prefixed(f"{key_space}:b:").aclose()
    assert await _connections_named(redis_client, name) == 1

    await state.aclose()
    assert await _wait_for_connections(redis_client, name, 0) == 0


@pytest.mark.redis
async def test_aclose_leaves_a_client_it_was_given_to_its_owner(
    redis_url: str, key_space: str, redis_client: Redis
) -> None:
    name = f"mbff-test-{uuid.uuid4().hex}"
    client = Redis.from_url(redis_url, client_name=name)
    try:
        state = RedisState(client, prefix=f"{key_space}:a:")
        await state.put("k", "v", LONG_TTL)
        await state.aclose()
        # Closed connections would be gone from the server's list before this sleep ends.
        await anyio.sleep(0.05)
        assert await _connections_named(redis_client, name) == 1
    finally:
        await client.aclose()


# -- failures ------------------------------------------------------------------------------------


class SilentServer:
    """A Redis stand-in that accepts connections, reads what it is sent and never answers.

    It counts the connections it accepted: redis-py drops a connection whose read timed out,
    so a hidden retry shows as a second connection, whatever the machine's load does to timing.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self._peers: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"

    @property
    def connections(self) -> int:
        return len(self._peers)

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                peer, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._peers.append(peer)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        for peer in self._peers:
            peer.close()
        self._listener.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


def _bounded_state(url: str) -> RedisState:
    return RedisState.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_an_unreachable_redis_raises_shared_state_unavailable_at_once(
    operation: str,
) -> None:
    state = _bounded_state(UNREACHABLE_URL)
    started = time.monotonic()
    try:
        with pytest.raises(SharedStateUnavailable) as caught:
            await OPERATIONS[operation](state)
    finally:
        await state.aclose()
    assert time.monotonic() - started < TIMEOUT
    assert isinstance(caught.value.__cause__, redis_errors.ConnectionError)


# The non-idempotent writes: where a hidden retry would do harm, and where time is spent once.
@pytest.mark.parametrize("operation", ["add", "incr"])
async def test_a_redis_that_never_answers_raises_shared_state_unavailable_after_the_timeout(
    silent_server: SilentServer, operation: str
) -> None:
    state = _bounded_state(silent_server.url)
    started = time.monotonic()
    try:
        with pytest.raises(SharedStateUnavailable) as caught:
            await OPERATIONS[operation](state)
        elapsed = time.monotonic() - started
        # One attempt, no retries: a retry would have opened a second connection.
        assert silent_server.connections == 1
    finally:
        await state.aclose()
    # It waited for the answer (the timeout) rather than giving up early. Only the lower bound
    # is timed: a loaded machine stretches time, it never shortens it.
    assert elapsed >= TIMEOUT * 0.9
    assert isinstance(caught.value.__cause__, redis_errors.TimeoutError)


async def test_ping_is_false_for_an_unreachable_redis_without_raising() -> None:
    state = _bounded_state(UNREACHABLE_URL)
    started = time.monotonic()
    try:
        assert await state.ping() is False
    finally:
        await state.aclose()
    assert time.monotonic() - started < TIMEOUT


async def test_ping_is_false_within_the_timeout_for_a_redis_that_never_answers(
    silent_server: SilentServer,
) -> None:
    state = _bounded_state(silent_server.url)
    try:
        assert await state.ping() is False
        assert silent_server.connections == 1
    finally:
        await state.aclose()


async def test_the_error_names_neither_the_key_nor_the_password() -> None:
    state = _bounded_state(UNREACHABLE_URL)
    try:
        with pytest.raises(SharedStateUnavailable) as caught:
            await OPERATIONS["add"](state)
    finally:
        await state.aclose()
    message = str(caught.value)
    assert "SET NX" in message
    assert "jti-4711" not in message
    assert "s3cret-redis-pw" not in message
