"""State shared by the service's replicas: one interface, an in-process and a Redis backend.

Callers depend on :class:`~app.state.store.SharedState` and get an instance from
:func:`~app.state.factory.open_shared_state`; which backend serves it is a deployment choice.
"""

from app.state.factory import open_shared_state
from app.state.store import DEFAULT_PREFIX, SharedState, SharedStateUnavailable

__all__ = ["DEFAULT_PREFIX", "SharedState", "SharedStateUnavailable", "open_shared_state"]
