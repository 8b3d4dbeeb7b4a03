"""Notices: a change to the shared state, told to every replica as it is made.

A replica that remembers what it read from the shared state (the revocation cache,
:mod:`app.session.revocation_cache`) must forget it when any replica changes it. With Redis, a
change and its notice are one transaction: the write and a ``PUBLISH`` on one channel,
``<prefix>notices``, in ``MULTI``/``EXEC`` (or in one script). Redis applies both or neither, so
no change is made without its notice, and a read that Redis ran before the change was answered
before the notice went out.

Each replica follows the channel with one subscription (:meth:`RedisNotices.follow`) and tells a
:class:`NoticeListener`:

- ``subscribed(until)``: a new subscription is confirmed. Notices published while there was none
  are lost for good, so the listener forgets everything it remembered.
- ``heard(notice)``: a notice, this replica's own included, in the order Redis published them.
- ``confirmed(until)``: a heartbeat (``PING`` on the subscription) came back. Redis answers on a
  connection in order, so every notice published before the heartbeat was sent has been heard.
- ``lost()``: the subscription broke (closed, failed, or a heartbeat unanswered in time). The
  loop subscribes again every half second until Redis answers.

``until`` (on :func:`time.monotonic`'s clock) is the moment the last heartbeat, or the
subscription, was sent plus :data:`HEARTBEAT_SECONDS` plus the time Redis is given to answer:
the latest moment by which the next heartbeat must have come back. A listener that uses what it
remembers only before ``until`` never misses a notice older than that sum (2 s with the default
``BFF_REDIS_TIMEOUT``), even when the connection goes silent without closing (a partition), and
even when this loop is late. Redis keeps no notice for a subscriber that is away: that is why a
broken subscription makes the listener forget.

Without Redis there is nobody to tell: :class:`SilentNotices` only writes.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import anyio
from redis.asyncio.client import PubSub

from app.state.redis import RedisState, milliseconds, translated
from app.state.store import SharedState

logger = logging.getLogger(__name__)

CHANNEL = "notices"  # under the state's prefix: deployments sharing a Redis do not hear each other
HEARTBEAT_SECONDS = 1.0
RESUBSCRIBE_SECONDS = 0.5  # between two attempts to subscribe while Redis does not answer


class NoticeListener(Protocol):
    def subscribed(self, until: float) -> None:
        """A new subscription is live: forget everything, trust what follows until ``until``."""
        ...

    def heard(self, notice: str) -> None:
        """A notice from any replica."""
        ...

    def confirmed(self, until: float) -> None:
        """Nothing published before the heartbeat was sent is missing; trust until ``until``."""
        ...

    def lost(self) -> None:
        """The subscription broke: notices may be missing from now on."""
        ...


class Notices(Protocol):
    """Writes that tell every replica what changed (``notice``), in the same step."""

    async def put(self, key: str, value: str, ttl: float, notice: str) -> None:
        """:meth:`SharedState.put`, and ``notice`` to every replica."""
        ...

    async def ensure(self, key: str, value: str, notice: str) -> str:
        """:meth:`SharedState.ensure`, and ``notice`` to every replica when this call set it."""
        ...


class SilentNotices:
    """One process: nobody to tell. The writes alone."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def put(self, key: str, value: str, ttl: float, notice: str) -> None:
        await self._state.put(key, value, ttl)

    async def ensure(self, key: str, value: str, notice: str) -> str:
        return await self._state.ensure(key, value)


class NoticesLost(Exception):
    """The subscription cannot be trusted any more."""


class RedisNotices:
    """Notices on one Redis pub/sub channel under the state's prefix.

    ``answer_within`` is how long a subscription or heartbeat may wait for Redis's answer (the
    state's own timeout is the natural choice).
    """

    def __init__(self, state: RedisState, *, answer_within: float = 1.0) -> None:
        self._state = state
        self._client = state.client
        self._prefix = state.prefix
        self.channel = state.prefix + CHANNEL
        self._answer_within = answer_within
        self._lost_at: float | None = None  # when the subscription broke, until it is back

    async def put(self, key: str, value: str, ttl: float, notice: str) -> None:
        ms = milliseconds(ttl)
        with translated("SET+PUBLISH"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._prefix + key, value, px=ms)
                pipe.publish(self.channel, notice)
                await pipe.execute()

    async def ensure(self, key: str, value: str, notice: str) -> str:
        return await self._state.ensure(key, value, announce=(self.channel, notice))

    async def follow(self, listener: NoticeListener) -> None:
        """Keep one subscription and report it to ``listener``, until cancelled."""
        while True:
            try:
                await self._follow_once(listener)
            except Exception as exc:  # noqa: BLE001 - any failure is a lost subscription: retried
                if self._lost_at is None:  # logged once per loss, not once per attempt
                    self._lost_at = time.monotonic()
                    # The exception's type only: a message may carry the URL.
                    logger.warning(
                        "revocation notices not received (%s): every session check asks Redis "
                        "until the subscription is back",
                        type(exc).__name__,
                    )
            await anyio.sleep(RESUBSCRIBE_SECONDS)

    async def _follow_once(self, listener: NoticeListener) -> None:
        pubsub = self._client.pubsub()
        try:
            sent = time.monotonic()
            await pubsub.subscribe(self.channel)
            await self._answer(pubsub, listener, sent, "subscribe", self.channel)
            listener.subscribed(sent + HEARTBEAT_SECONDS + self._answer_within)
            if self._lost_at is not None:
                logger.warning(
                    "revocation notices received again after %.1f s",
                    time.monotonic() - self._lost_at,
                )
                self._lost_at = None
            beat = 0
            while True:
                await self._pass(pubsub, listener, sent + HEARTBEAT_SECONDS)
                beat += 1
                sent = time.monotonic()
                await pubsub.ping(str(beat))
                await self._answer(pubsub, listener, sent, "pong", str(beat))
                listener.confirmed(sent + HEARTBEAT_SECONDS + self._answer_within)
        finally:
            # Told before anything else is awaited: no request may use the memory meanwhile.
            listener.lost()
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    async def _answer(
        self, pubsub: PubSub, listener: NoticeListener, sent: float, kind: str, data: str
    ) -> None:
        """Read until Redis's answer ``kind``/``data`` to what was sent at ``sent`` arrives,
        passing notices on; NoticesLost when it has not arrived in time."""
        deadline = sent + self._answer_within
        field = "channel" if kind == "subscribe" else "data"
        while (left := deadline - time.monotonic()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is None:
                continue
            if message["type"] == "message":
                listener.heard(str(_text(message["data"])))
            # A subscription is confirmed with its channel, a heartbeat with its own word.
            elif message["type"] == kind and _text(message[field]) == data:
                return
        raise NoticesLost(f"no {kind} from redis within {self._answer_within} s")

    @staticmethod
    async def _pass(pubsub: PubSub, listener: NoticeListener, until: float) -> None:
        """Pass notices on until ``until``."""
        while (left := until - time.monotonic()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                listener.heard(str(_text(message["data"])))


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def notices_for(state: SharedState, *, answer_within: float = 1.0) -> Notices:
    """Notices on the same backend as ``state``."""
    if isinstance(state, RedisState):
        return RedisNotices(state, answer_within=answer_within)
    return SilentNotices(state)
