"""The callback page in English and German: the same texts in both, escaped, English by default."""

from __future__ import annotations

import json
import re

from app.connect.flows import FlowResult
from app.connect.page import render_flow_page
from app.connect.page_texts import LANGUAGES, PAGE_TEXTS
from app.errors import ErrorCode


def test_both_languages_have_exactly_the_same_keys_and_no_empty_text() -> None:
    assert set(LANGUAGES) == set(PAGE_TEXTS)
    assert set(PAGE_TEXTS["de"]) == set(PAGE_TEXTS["en"])
    for language in LANGUAGES:
        assert all(text.strip() for text in PAGE_TEXTS[language].values())
        assert PAGE_TEXTS[language] != PAGE_TEXTS["en"] or language == "en"


def test_every_code_with_a_text_is_a_catalogued_error_code() -> None:
    generic = {"success.heading", "success.detail", "failed.heading", "failed.detail", "close"}
    codes = {ErrorCode(code) for code in set(PAGE_TEXTS["en"]) - generic}
    assert ErrorCode.ACCESS_DENIED in codes


def _page_data(body: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="flow-result">(.*?)</script>', body)
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_the_page_is_english_and_carries_the_german_texts_for_the_browser_to_pick() -> None:
    result = FlowResult(success=False, provider="google", code=ErrorCode.ACCESS_DENIED.value)
    body = render_flow_page("flow1", result, ("https://app.test",)).body.decode()
    assert '<html lang="en">' in body
    assert PAGE_TEXTS["en"]["access_denied"] in body
    texts = _page_data(body)["texts"]
    assert isinstance(texts, dict)
    assert texts["de"] == {
        "heading": PAGE_TEXTS["de"]["failed.heading"],
        "detail": PAGE_TEXTS["de"]["access_denied"],
        "close": PAGE_TEXTS["de"]["close"],
    }
    # The problem code stays the stable English one.
    message = _page_data(body)["message"]
    assert isinstance(message, dict)
    assert message["code"] == "access_denied"


def test_a_code_without_its_own_text_gets_the_generic_one() -> None:
    result = FlowResult(success=False, provider="google", code=ErrorCode.UPSTREAM_TIMEOUT.value)
    texts = _page_data(render_flow_page(None, result, ()).body.decode())["texts"]
    assert isinstance(texts, dict)
    assert texts["de"]["detail"] == PAGE_TEXTS["de"]["failed.detail"]
