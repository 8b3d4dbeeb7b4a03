"""``Retry-After`` as meetergo (or a gateway before it) may send it: seconds or an HTTP date."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

# Delta-seconds (RFC 9110): ASCII digits only; str.isdigit() would also accept "²" or "١٢",
# which cannot even be written into a latin-1 header.
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")
RETRY_AFTER_MIN = 1  # "now" or a date in the past: still wait a moment, never hammer
RETRY_AFTER_MAX = 3600  # a longer answer is a mistake or an attack: wait at most an hour


def retry_after_seconds(value: str | None, now: float | None = None) -> int | None:
    """Whole seconds to wait, within a second and an hour; None when absent or unusable.

    Delta-seconds pass through; an HTTP date is turned into the seconds left until it, rounded up.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return min(RETRY_AFTER_MAX, max(RETRY_AFTER_MIN, int(value)))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": an HTTP date is GMT anyway
        moment = moment.replace(tzinfo=UTC)
    left = moment.timestamp() - (time.time() if now is None else now)
    return min(RETRY_AFTER_MAX, max(RETRY_AFTER_MIN, math.ceil(left)))
