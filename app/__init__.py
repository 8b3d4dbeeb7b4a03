"""meetergo-calendar-bff: a backend-for-frontend for meetergo's calendar connections."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("meetergo-calendar-bff")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
