"""Runbook 002: PostgreSQL with pgvector and Redis behind the multi-agent service."""
import json

from _hosts import hosts

testinfra_hosts = hosts("mol-multi-agent")


def test_pgvector_extension_present(host):
    out = host.run("sudo -u postgres psql -XAtq -d discord_agent -c 'SELECT extname FROM pg_extension'")
    assert "vector" in out.stdout.split()


def test_health_reports_postgres_and_redis(host):
    body = json.loads(host.run("curl -fsS http://127.0.0.1:8000/health").stdout)
    assert body["store"] == "postgres"
    assert body["components"]["store"] == "ok"
    assert body["components"]["redis"] == "ok"


def test_env_profile_is_production(host):
    body = json.loads(host.run("curl -fsS http://127.0.0.1:8000/health").stdout)
    assert body["environment"] == "production"
