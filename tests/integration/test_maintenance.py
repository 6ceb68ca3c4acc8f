"""playbooks/maintenance.yml: runbook 002/003 schedules run, leave the data intact and the service healthy."""
from conftest import docker_exec, host_http


def _count(host, sql):
    out = docker_exec(host, "sqlite3", "/var/lib/el-bot/data/el_sessions.db", sql).stdout.strip()
    return int(out)


def test_weekly_and_monthly_on_el_bot(local_hosts, run_playbook):
    host = local_hosts["el_bot"]
    status, _unused = host_http(host, "POST", "/api/v1/turns",
                                body={"thread_id": "maintenance-check", "text": "What should the weekly report contain"})
    assert status == 200
    before = _count(host, "SELECT count(*) FROM messages")

    result = run_playbook("playbooks/maintenance.yml", "--tags", "weekly,monthly", "--limit", "el_bot")
    assert result.rc == 0, result

    indexes = docker_exec(host, "sqlite3", "/var/lib/el-bot/data/el_sessions.db",
                          "SELECT name FROM sqlite_master WHERE type = 'index'").stdout.split()
    assert {"idx_sessions_org_id", "idx_messages_session_id"} <= set(indexes)
    assert _count(host, "SELECT count(*) FROM messages") == before
    assert docker_exec(host, "sqlite3", "/var/lib/el-bot/data/el_sessions.db",
                       "PRAGMA integrity_check").stdout.strip() == "ok"
    status, body = host_http(host, "GET", "/health")
    assert status == 200, body


def test_check_mode_changes_nothing(local_hosts, run_playbook):
    result = run_playbook("playbooks/maintenance.yml", "--tags", "monthly", "--limit", "el_bot", "--check")
    assert result.rc == 0, result
    assert "changed=0" in result.output, result
