"""Session stores: SQLite (runbook 000) and PostgreSQL + Redis (runbook 002)."""

from __future__ import annotations

from .base import StoreError, StoreSetupError, Store, TurnResult  # noqa: F401


def make_store(config) -> Store:
    """The store selected by ``AGENT_STORE``."""
    if config.store == "postgres":
        from .postgres_store import PostgresStore

        return PostgresStore(config.postgresql_url, config.redis_url, config.redis_session_ttl)
    from .sqlite_store import SqliteStore

    return SqliteStore(config.sqlite_path)
