"""The meetergo API key the service calls with, and its rollover to the next key.

meetergo's platform keys expire (after 1 to 90 days, as their creator chose). To replace one with
no failed call, the operator sets the new key as ``BFF_MEETERGO_API_KEY_NEXT`` beside the current
one. The current key is used until meetergo refuses it with 401; the call is then sent again with
the next key (a 401 means meetergo did nothing, so even a write is safe to resend), and the next
key is used from then on by this process. The switch is logged and counted.

When meetergo refuses the last key too, the credential is *degraded*: one error log, the gauge
``bff_upstream_credential_refused`` at 1, and ``/readyz`` says so without failing readiness (every
replica shares the key, so taking replicas out of rotation would help nobody; see
docs/operations.md). Any answer other than 401 to the key in use clears the state.

Each resend is one more request to meetergo, charged to the same per-key budget: the two keys
belong to the same company, and the budget stage counts calls before they reach the sender, so a
resend is the one upstream call it does not see (at most one per call, and only at a switch).
"""

from __future__ import annotations

import logging

from app.config import Settings, env_name
from app.ops.metrics import Metrics

logger = logging.getLogger(__name__)

CURRENT = "current"
NEXT = "next"


class MeetergoCredentials:
    """The keys in order of use, and which one this process is on."""

    def __init__(self, current: str, next_key: str | None, metrics: Metrics | None = None) -> None:
        self._keys: list[tuple[str, str]] = [(CURRENT, f"Bearer {current}")]
        if next_key:
            self._keys.append((NEXT, f"Bearer {next_key}"))
        self._index = 0
        self._refused = False
        self._metrics = metrics
        self._publish()

    @classmethod
    def from_settings(
        cls, settings: Settings, metrics: Metrics | None = None
    ) -> MeetergoCredentials:
        next_key = settings.meetergo_api_key_next
        return cls(
            settings.meetergo_api_key.get_secret_value(),
            next_key.get_secret_value() if next_key is not None else None,
            metrics,
        )

    @property
    def in_use(self) -> str:
        """``current`` or ``next``: which configured key calls go out with."""
        return self._keys[self._index][0]

    def authorization(self) -> str:
        """The ``Authorization`` header value for the next call."""
        return self._keys[self._index][1]

    def refused(self, authorization: str) -> str | None:
        """meetergo answered 401 to ``authorization``: the header to resend with, or None.

        Calls in flight at the switch come back with the old key; they are resent with the key in
        use, and only the first of them switches.
        """
        position = next(i for i, (_, header) in enumerate(self._keys) if header == authorization)
        if position < self._index:
            return self.authorization()  # another call has already switched
        if position + 1 < len(self._keys):
            self._index = position + 1
            logger.warning(
                "meetergo refused the %s API key (401): switching to %s; make it %s and unset "
                "%s (docs/operations.md, key rotation)",
                self._keys[position][0],
                env_name("meetergo_api_key_next"),
                env_name("meetergo_api_key"),
                env_name("meetergo_api_key_next"),
            )
            if self._metrics:
                self._metrics.upstream_key_switches.inc()
            self._publish()
            return self.authorization()
        if not self._refused:
            self._refused = True
            logger.error(
                "meetergo refused the %s API key (401): every calendar call fails with "
                "upstream_unauthorized until a valid key is configured (docs/operations.md, "
                "runbook: upstream credential refused)",
                self.in_use,
            )
            self._publish()
        return None

    def accepted(self, authorization: str) -> None:
        """meetergo answered ``authorization`` with anything but 401: the key works."""
        if self._refused and authorization == self.authorization():
            self._refused = False
            logger.warning("meetergo accepts the %s API key again", self.in_use)
            self._publish()

    def status(self) -> str:
        """For ``/readyz``: ``ok``, or what is wrong (never the key itself)."""
        if self._refused:
            return f"degraded: meetergo refuses the {self.in_use} API key (401)"
        return "ok"

    def _publish(self) -> None:
        if self._metrics is None:
            return
        self._metrics.upstream_credential_refused.set(1 if self._refused else 0)
        for name, _ in self._keys:
            self._metrics.upstream_key_in_use.labels(name).set(1 if name == self.in_use else 0)
