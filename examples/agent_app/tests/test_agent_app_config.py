"""Environment validation, profiles and ``agent-app check-config``."""

import pytest

from agent_app import cli
from agent_app.config import ConfigError, load_config, mask_url


def bad_vars(env):
    with pytest.raises(ConfigError) as info:
        load_config(env)
    return [var for var, _msg in info.value.errors]


def test_defaults_follow_developing_md():
    config = load_config({})
    assert config.environment == "production"
    assert (config.bind, config.port, config.workers) == ("0.0.0.0", 8000, 1)
    assert config.store == "sqlite"
    assert config.sqlite_path == "./data/el_sessions.db"
    assert config.log_file == "./logs/agent.log"
    assert (config.trace, config.trace_dir) == (False, "./logs/wal")
    assert config.state_dir == "./state"
    assert config.role == "api"
    assert config.admin_token is None
    assert config.dynamic_tools_dir is None
    assert config.tools_traffic_interval == 0.0


def test_profiles_of_runbook_002():
    test = load_config({"ENVIRONMENT": "test"}).profile
    prod = load_config({"ENVIRONMENT": "production"}).profile
    assert (test.spontaneous_interval_s, test.spontaneous_probability, test.fail_fast, test.log_level) == \
        (10.0, 1.0, True, "DEBUG")
    assert (prod.spontaneous_interval_s, prod.spontaneous_probability, prod.fail_fast, prod.log_level) == \
        (300.0, 0.33, False, "INFO")
    assert load_config({"ENVIRONMENT": "production", "LOG_LEVEL": "debug"}).effective_log_level == "DEBUG"


@pytest.mark.parametrize("env, variable", [
    ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
    ({"AGENT_PORT": "eighty"}, "AGENT_PORT"),
    ({"AGENT_PORT": "70000"}, "AGENT_PORT"),
    ({"AGENT_WORKERS": "0"}, "AGENT_WORKERS"),
    ({"AGENT_STORE": "mysql"}, "AGENT_STORE"),
    ({"AGENT_STORE": "postgres", "REDIS_URL": "redis://localhost:6379"}, "POSTGRESQL_URL"),
    ({"AGENT_STORE": "postgres", "POSTGRESQL_URL": "postgresql://u@h/db"}, "REDIS_URL"),
    ({"POSTGRESQL_URL": "mysql://x"}, "POSTGRESQL_URL"),
    ({"AGENT_ROLE": "scheduler"}, "AGENT_ROLE"),
    ({"EL_TRACE": "maybe"}, "EL_TRACE"),
    ({"AGENT_FAIL_HEALTH": "2"}, "AGENT_FAIL_HEALTH"),
    ({"AGENT_TOOLS_TRAFFIC_INTERVAL": "-1"}, "AGENT_TOOLS_TRAFFIC_INTERVAL"),
    ({"CHAT_EXECUTION_MODE": "agentic"}, "CHAT_EXECUTION_MODE"),
    ({"CHAT_RUNTIME_ERROR_RATE_THRESHOLD": "0"}, "CHAT_RUNTIME_ERROR_RATE_THRESHOLD"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
])
def test_bad_variable_is_named(env, variable):
    assert bad_vars(env) == [variable]


def test_every_bad_variable_is_reported_at_once():
    assert bad_vars({"ENVIRONMENT": "dev", "AGENT_PORT": "x"}) == ["ENVIRONMENT", "AGENT_PORT"]


def test_mask_url_hides_password():
    assert mask_url("postgresql://agent:s3cret@db:5432/discord_agent") == "postgresql://agent:***@db:5432/discord_agent"
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def _clear(monkeypatch):
    for var in ("ENVIRONMENT", "AGENT_PORT", "AGENT_STORE", "POSTGRESQL_URL", "REDIS_URL", "ADMIN_TOKEN",
                "AGENT_ROLE", "AGENT_WORKERS", "LOG_LEVEL"):
        monkeypatch.delenv(var, raising=False)


def test_check_config_ok(monkeypatch, capsys):
    _clear(monkeypatch)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("POSTGRESQL_URL", "postgresql://agent:s3cret@db/agent")
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out
    assert "ENVIRONMENT=test" in out
    assert "s3cret" not in out


@pytest.mark.parametrize("env, variable", [
    ({"AGENT_PORT": "abc"}, "AGENT_PORT"),
    ({"ENVIRONMENT": "prod"}, "ENVIRONMENT"),
    ({"AGENT_STORE": "postgres", "REDIS_URL": "redis://localhost"}, "POSTGRESQL_URL"),
])
def test_check_config_names_bad_variable(monkeypatch, capsys, env, variable):
    _clear(monkeypatch)
    for key, val in env.items():
        monkeypatch.setenv(key, val)
    assert cli.main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert f"configuration error: {variable}:" in err


def test_serve_refuses_unknown_environment(monkeypatch, capsys):
    _clear(monkeypatch)
    monkeypatch.setenv("ENVIRONMENT", "qa")
    assert cli.main(["serve"]) == 2
    assert "ENVIRONMENT: unknown value 'qa'; expected one of: test, production" in capsys.readouterr().err


def test_check_config_connect_sqlite(monkeypatch, capsys, tmp_path):
    _clear(monkeypatch)
    monkeypatch.setenv("EL_SQLITE_PATH", str(tmp_path / "d" / "s.db"))
    assert cli.main(["check-config", "--connect"]) == 0
    assert "store: ok" in capsys.readouterr().out
    assert (tmp_path / "d" / "s.db").exists()
