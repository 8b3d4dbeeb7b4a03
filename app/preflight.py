"""Start-up checks that need more than the settings' own values: files and keys they name.

:class:`~app.config.Settings` reports every problem with the variables themselves at once. What it
cannot judge alone (an operation id that the route table does not know, a ticket key file that
cannot be read or parsed, a user-mapping file that cannot be loaded) is checked here, again all at
once, by both ``create_app`` and ``meetergo-bff check-config``.
"""

from __future__ import annotations

from app.config import ConfigError, Settings, env_name
from app.session.mapping import FileMapping, UserMappingFileError
from app.session.tickets import load_verification_key
from app.upstream.table import ROUTES_BY_ID


def startup_problems(settings: Settings) -> list[str]:
    """Every problem found, one operator-readable line each (variable, what, how to fix)."""
    problems: list[str] = []
    unknown = sorted(set(settings.disabled_routes) - set(ROUTES_BY_ID))
    if unknown:
        problems.append(
            f"{env_name('disabled_routes')}: unknown operation ids {unknown}; "
            f"use only known ones: {sorted(ROUTES_BY_ID)}"
        )
    try:
        load_verification_key(settings)
    except ConfigError as exc:
        problems += exc.problems
    if settings.user_mapping == "file" and settings.user_mapping_file:
        try:
            FileMapping(settings.user_mapping_file)
        except UserMappingFileError as exc:
            problems.append(f"{env_name('user_mapping_file')}: {exc}; fix or replace the file")
    return problems


def check_startup(settings: Settings) -> None:
    """Raise :class:`ConfigError` with every start-up problem, if there is any."""
    problems = startup_problems(settings)
    if problems:
        raise ConfigError(problems)
