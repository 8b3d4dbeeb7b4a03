"""Generated documents match the code they are generated from."""

from __future__ import annotations

import pytest

from app.docs_gen import ROOT, generated_documents


@pytest.mark.parametrize(
    ("path", "expected"),
    list(generated_documents().items()),
    ids=lambda value: value.name if hasattr(value, "name") else "",
)
def test_committed_document_is_up_to_date(path: object, expected: str) -> None:
    assert hasattr(path, "read_text")
    committed = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert committed == expected, (
        f"{path} is stale: run `python -m app.docs_gen` and commit the result"
    )
    assert str(path).startswith(str(ROOT))
