# ruff: noqa: E501 - a catalogue of sentences reads better one per line
"""The callback page's texts, in English and German (the same keys in both; a test checks it).

The page picks the language in the browser, from ``navigator.languages`` (what the browser sends
as Accept-Language), so the callback route needs no language parameter: the page is rendered in
English and carries both catalogues. Failure details are per error code, friendlier than the
problem titles, and say what to do next; codes without an entry get the generic text.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "de")

PAGE_TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "success.heading": "Calendar connected",
        "success.detail": "Returning you to the app.",
        "failed.heading": "Calendar not connected",
        "failed.detail": "The connection did not complete.",
        "close": "You can close this window.",
        "access_denied": "Access was declined, so nothing was connected. You can try again from the app.",
        "invalid_scope": "Access to your calendars was not granted. Connect again and leave the calendar permission ticked.",
        "server_error": "The provider or meetergo had a problem. Nothing was connected; try again in a few seconds.",
        "connection_already_exists": "That account is already connected.",
        "flow_mismatch": "For your safety nothing was connected: this result arrived in another browser or session than the one that started it.",
        "flow_expired": "This connection attempt expired. Start again from the app.",
        "limit_reached": "Your company's meetergo plan allows no more calendar connections.",
        "connect_failed": "The connection did not complete. Try again from the app.",
    },
    "de": {
        "success.heading": "Kalender verbunden",
        "success.detail": "Sie kehren zur App zurück.",
        "failed.heading": "Kalender nicht verbunden",
        "failed.detail": "Die Verbindung wurde nicht abgeschlossen.",
        "close": "Sie können dieses Fenster schließen.",
        "access_denied": "Der Zugriff wurde abgelehnt, daher wurde nichts verbunden. Sie können es in der App erneut versuchen.",
        "invalid_scope": "Der Zugriff auf Ihre Kalender wurde nicht erlaubt. Verbinden Sie erneut und lassen Sie die Kalenderberechtigung angehakt.",
        "server_error": "Beim Anbieter oder bei meetergo gab es ein Problem. Es wurde nichts verbunden; versuchen Sie es in einigen Sekunden erneut.",
        "connection_already_exists": "Dieses Konto ist bereits verbunden.",
        "flow_mismatch": "Zu Ihrer Sicherheit wurde nichts verbunden: Dieses Ergebnis kam in einem anderen Browser oder einer anderen Sitzung an als der, die es gestartet hat.",
        "flow_expired": "Dieser Verbindungsversuch ist abgelaufen. Starten Sie ihn in der App erneut.",
        "limit_reached": "Der meetergo-Tarif Ihres Unternehmens erlaubt keine weiteren Kalenderverbindungen.",
        "connect_failed": "Die Verbindung wurde nicht abgeschlossen. Versuchen Sie es in der App erneut.",
    },
}


def page_texts(language: str, *, success: bool, code: str | None) -> dict[str, str]:
    """heading, detail and close for one result in one language (English when unknown)."""
    texts = PAGE_TEXTS.get(language, PAGE_TEXTS["en"])
    if success:
        return {
            "heading": texts["success.heading"],
            "detail": texts["success.detail"],
            "close": texts["close"],
        }
    return {
        "heading": texts["failed.heading"],
        "detail": texts.get(code or "", texts["failed.detail"]),
        "close": texts["close"],
    }
