"""Configuration of the reference agent service, read only from environment variables.

Every variable is validated here; :func:`load_config` raises :class:`ConfigError`
naming each bad variable, so ``agent-app check-config`` and the start of every
process report the same messages.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

ENVIRONMENTS = ("test", "production")
STORES = ("sqlite", "postgres")
ROLES = ("api", "worker")
MODES = ("direct_llm", "runtime_orchestrator")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclasses.dataclass(frozen=True)
class Profile:
    """Runbook 002 environment profiles (test / production)."""

    name: str
    spontaneous_interval_s: float
    spontaneous_probability: float
    fail_fast: bool
    log_level: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


PROFILES = {
    "test": Profile("test", 10.0, 1.0, True, "DEBUG"),
    "production": Profile("production", 300.0, 0.33, False, "INFO"),
}


class ConfigError(Exception):
    """One or more environment variables are invalid.

    ``errors`` is a list of ``(variable, message)`` pairs.
    """

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("; ".join(f"{var}: {msg}" for var, msg in self.errors))

    def lines(self):
        return [f"{var}: {msg}" for var, msg in self.errors]


@dataclasses.dataclass(frozen=True)
class Config:
    environment: str = "production"
    bind: str = "0.0.0.0"
    port: int = 8000
    workers: int = 1
    store: str = "sqlite"
    sqlite_path: str = "./data/el_sessions.db"
    postgresql_url: Optional[str] = None
    redis_url: Optional[str] = None
    redis_session_ttl: int = 86400
    admin_token: Optional[str] = dataclasses.field(default=None, repr=False)
    log_file: str = "./logs/agent.log"
    log_level: Optional[str] = None
    trace: bool = False
    trace_dir: str = "./logs/wal"
    state_dir: str = "./state"
    dynamic_tools_dir: Optional[str] = None
    tools_traffic_interval: float = 0.0
    role: str = "api"
    fail_health: bool = False
    chat_execution_mode: str = "runtime_orchestrator"
    fallback_error_rate_threshold: float = 0.5
    fallback_consecutive_errors: int = 3
    fallback_window: int = 20
    fallback_min_samples: int = 10
    token_budget: int = 1_000_000
    worker_poll_interval: float = 1.0
    job_max_attempts: int = 3
    job_retry_delay: float = 1.0

    @property
    def profile(self) -> Profile:
        return PROFILES[self.environment]

    @property
    def effective_log_level(self) -> str:
        return self.log_level or self.profile.log_level

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def summary(self) -> dict:
        """Settings safe to print or log: no token, no URL password."""
        return {
            "ENVIRONMENT": self.environment,
            "AGENT_ROLE": self.role,
            "AGENT_BIND": self.bind,
            "AGENT_PORT": self.port,
            "AGENT_WORKERS": self.workers,
            "AGENT_STORE": self.store,
            "EL_SQLITE_PATH": self.sqlite_path if self.store == "sqlite" else None,
            "POSTGRESQL_URL": mask_url(self.postgresql_url),
            "REDIS_URL": mask_url(self.redis_url),
            "ADMIN_TOKEN": "set" if self.admin_token else "unset",
            "AGENT_LOG_FILE": self.log_file,
            "LOG_LEVEL": self.effective_log_level,
            "EL_TRACE": int(self.trace),
            "EL_TRACE_DIR": self.trace_dir,
            "AGENT_STATE_DIR": self.state_dir,
            "AGENT_DYNAMIC_TOOLS_DIR": self.dynamic_tools_dir,
            "AGENT_TOOLS_TRAFFIC_INTERVAL": self.tools_traffic_interval,
            "AGENT_FAIL_HEALTH": int(self.fail_health),
            "CHAT_EXECUTION_MODE": self.chat_execution_mode,
        }


def mask_url(url: Optional[str]) -> Optional[str]:
    """Hide the password of a URL (``postgresql://u:***@h/db``)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0] + ":***"
    return urlunsplit(parts._replace(netloc=userinfo + "@" + netloc[1]))


class _Reader:
    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.errors: list = []

    def raw(self, name: str) -> Optional[str]:
        value = self.env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value if value != "" else None

    def string(self, name, default):
        value = self.raw(name)
        return default if value is None else value

    def choice(self, name, choices, default):
        value = self.raw(name)
        if value is None:
            return default
        if value not in choices:
            self.errors.append((name, f"unknown value {value!r}; expected one of: {', '.join(choices)}"))
            return default
        return value

    def integer(self, name, default, minimum=None, maximum=None):
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value, 10)
        except ValueError:
            self.errors.append((name, f"must be an integer (got {value!r})"))
            return default
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.errors.append((name, f"must be between {minimum} and {maximum} (got {number})"
                                if maximum is not None else f"must be >= {minimum} (got {number})"))
            return default
        return number

    def number(self, name, default, minimum=None, maximum=None, exclusive_min=False):
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.errors.append((name, f"must be a number (got {value!r})"))
            return default
        if math.isnan(number) or math.isinf(number):
            self.errors.append((name, f"must be a finite number (got {value!r})"))
            return default
        too_low = minimum is not None and (number <= minimum if exclusive_min else number < minimum)
        too_high = maximum is not None and number > maximum
        if too_low or too_high:
            low = f"> {minimum}" if exclusive_min else f">= {minimum}"
            bound = f"{low} and <= {maximum}" if maximum is not None else low
            self.errors.append((name, f"must be {bound} (got {value})"))
            return default
        return number

    def boolean(self, name, default):
        value = self.env.get(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        self.errors.append((name, f"must be a boolean 0/1/true/false (got {value!r})"))
        return default

    def log_level(self, name):
        value = self.raw(name)
        if value is None:
            return None
        if value.upper() not in LOG_LEVELS:
            self.errors.append((name, f"unknown value {value!r}; expected one of: {', '.join(LOG_LEVELS)}"))
            return None
        return value.upper()

    def url(self, name, schemes):
        value = self.raw(name)
        if value is None:
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in schemes:
            self.errors.append((name, f"must be a URL with scheme {' or '.join(s + '://' for s in schemes)}"))
            return None
        return value


def load_config(env: Optional[Mapping[str, str]] = None, **overrides) -> Config:
    """Build a :class:`Config` from ``env`` (default ``os.environ``).

    Raises :class:`ConfigError` listing every invalid variable.
    """
    r = _Reader(os.environ if env is None else env)
    values = dict(
        environment=r.choice("ENVIRONMENT", ENVIRONMENTS, "production"),
        bind=r.string("AGENT_BIND", "0.0.0.0"),
        port=r.integer("AGENT_PORT", 8000, 1, 65535),
        workers=r.integer("AGENT_WORKERS", 1, 1, 64),
        store=r.choice("AGENT_STORE", STORES, "sqlite"),
        sqlite_path=r.string("EL_SQLITE_PATH", "./data/el_sessions.db"),
        postgresql_url=r.url("POSTGRESQL_URL", ("postgresql", "postgres")),
        redis_url=r.url("REDIS_URL", ("redis", "rediss", "unix")),
        redis_session_ttl=r.integer("REDIS_SESSION_TTL", 86400, 1),
        admin_token=r.raw("ADMIN_TOKEN"),
        log_file=r.string("AGENT_LOG_FILE", "./logs/agent.log"),
        log_level=r.log_level("LOG_LEVEL"),
        trace=r.boolean("EL_TRACE", False),
        trace_dir=r.string("EL_TRACE_DIR", "./logs/wal"),
        state_dir=r.string("AGENT_STATE_DIR", "./state"),
        dynamic_tools_dir=r.raw("AGENT_DYNAMIC_TOOLS_DIR"),
        tools_traffic_interval=r.number("AGENT_TOOLS_TRAFFIC_INTERVAL", 0.0, 0.0),
        role=r.choice("AGENT_ROLE", ROLES, "api"),
        fail_health=r.boolean("AGENT_FAIL_HEALTH", False),
        chat_execution_mode=r.choice("CHAT_EXECUTION_MODE", MODES, "runtime_orchestrator"),
        fallback_error_rate_threshold=r.number("CHAT_RUNTIME_ERROR_RATE_THRESHOLD", 0.5, 0.0, 1.0,
                                               exclusive_min=True),
        fallback_consecutive_errors=r.integer("CHAT_RUNTIME_FALLBACK_CONSECUTIVE_ERRORS", 3, 1),
        token_budget=r.integer("AGENT_TOKEN_BUDGET", 1_000_000, 1),
        worker_poll_interval=r.number("AGENT_WORKER_POLL_INTERVAL", 1.0, 0.0, exclusive_min=True),
        job_max_attempts=r.integer("AGENT_JOB_MAX_ATTEMPTS", 3, 1, 100),
        job_retry_delay=r.number("AGENT_JOB_RETRY_DELAY", 1.0, 0.0),
    )
    if values["store"] == "postgres":
        if not values["postgresql_url"] and not any(v == "POSTGRESQL_URL" for v, _msg in r.errors):
            r.errors.append(("POSTGRESQL_URL", "required when AGENT_STORE=postgres"))
        if not values["redis_url"] and not any(v == "REDIS_URL" for v, _msg in r.errors):
            r.errors.append(("REDIS_URL", "required when AGENT_STORE=postgres"))
    if not values["bind"]:
        r.errors.append(("AGENT_BIND", "must not be empty"))
    if r.errors:
        raise ConfigError(r.errors)
    values.update(overrides)
    return Config(**values)
