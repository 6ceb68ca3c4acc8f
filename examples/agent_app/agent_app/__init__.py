"""Reference agent service of opskit: stands in for the five runbooks' systems."""

from __future__ import annotations

DIST_NAMES = ("agent-app", "agent_app")


def get_version() -> str:
    """The installed distribution's version (set at build time by AGENT_APP_VERSION)."""
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover
        return "0+unknown"
    for name in DIST_NAMES:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "0+source"


__version__ = get_version()
