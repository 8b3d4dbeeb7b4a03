"""``Retry-After`` as meetergo (or a gateway before it) may send it: seconds or an HTTP date."""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime

# Delta-seconds (RFC 9110): ASCII digits only; str.isdigit() would also accept "²" or "١٢".
_DELTA_SECONDS = re.compile(r"[0-9]{1,9}")
MAX_RETRY_AFTER = 3600.0  # a longer answer is a mistake or an attack: wait at most an hour


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait, from a ``Retry-After`` value; None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; an unzoned one is not an HTTP date
        return None
    seconds = moment.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
