"""Settings for tests: valid by default, never read from the developer's environment or .env."""

from __future__ import annotations

from typing import Any

from app.config import Settings

# Random-looking, test-only keys (not placeholders, >= 32 bytes).
SESSION_KEY = "k7Qw2Zp9Lm4Xv8Rt1Yb6Nc3Hd5Fj0Gs2Ua7Ie9Ko4W"
OLD_SESSION_KEY = "Pz3Mx8Qv1Lr6Tw9Ks2Hb5Yd7Nf4Gj0Cu8Ea3Io6Wq1"
TICKET_SECRET = "Tq8Wm3Zr5Xy1Kp7Lv2Nb9Hc4Jd6Fg0Sa8Ue3Io5Pw7Rt"
MANAGEMENT_TOKEN = "Mg4Nt7Kx2Qp9Lr5Wz1Hv8Yc3Bd6Fs0Ja4Te7Uo2Ik9Pm"
API_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000002:sandbox-member-secret-0002"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "public_url": "https://bff.test",
        "meetergo_api_key": API_KEY,
        "session_keys": [SESSION_KEY],
        "ticket_secret": TICKET_SECRET,
        # Tests share a busy machine, and in-process servers share the GIL with the test itself:
        # their event loops run late often. Shedding on lag is tested on its own
        # (tests/proxy/test_overload.py); elsewhere it would refuse requests at random.
        "max_loop_lag": 10.0,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)
