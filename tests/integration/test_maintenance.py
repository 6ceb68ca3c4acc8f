"""playbooks/maintenance.yml: runbook 002/003 schedules run, leave the data intact and the service healthy;
its tunables come from the inventory."""
import datetime
import os
import sqlite3
import sys
import textwrap

from conftest import docker_exec, host_http

DB = "/var/lib/el-bot/data/el_sessions.db"


def _count(host, sql):
    out = docker_exec(host, "sqlite3", DB, sql).stdout.strip()
    return int(out)


def _indexes(host):
    return set(docker_exec(host, "sqlite3", DB, "SELECT name FROM sqlite_master WHERE type = 'index'").stdout.split())


def _days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def test_weekly_and_monthly_on_el_bot(local_hosts, run_playbook):
    host = local_hosts["el_bot"]
    status, _unused = host_http(host, "POST", "/api/v1/turns",
                                body={"thread_id": "maintenance-check", "text": "What should the weekly report contain"})
    assert status == 200
    before = _count(host, "SELECT count(*) FROM messages")

    result = run_playbook("playbooks/maintenance.yml", "--tags", "weekly,monthly", "--limit", "el_bot")
    assert result.rc == 0, result

    assert {"idx_sessions_org_id", "idx_messages_session_id", "idx_messages_created_at"} <= _indexes(host)
    # Runbook 003's purge applies to runbook 003's stores only: el-bot (runbook 000) keeps every message.
    assert _count(host, "SELECT count(*) FROM messages") == before
    assert docker_exec(host, "sqlite3", DB, "PRAGMA integrity_check").stdout.strip() == "ok"
    # The WAL files, when SQLite (run as root) created any, belong to the service user.
    for suffix in ("-wal", "-shm"):
        owner = docker_exec(host, "stat", "-c", "%U", DB + suffix, check=False)
        assert owner.returncode != 0 or owner.stdout.strip() == "el-bot", owner.stdout
    status, body = host_http(host, "GET", "/health")
    assert status == 200, body


def test_check_mode_changes_nothing(local_hosts, run_playbook):
    result = run_playbook("playbooks/maintenance.yml", "--tags", "monthly", "--limit", "el_bot", "--check")
    assert result.rc == 0, result
    assert "changed=0" in result.output, result


def test_check_mode_reports_a_missing_index_and_the_run_creates_it(local_hosts, run_playbook):
    host = local_hosts["el_bot"]
    docker_exec(host, "sqlite3", DB, "PRAGMA busy_timeout=5000; DROP INDEX IF EXISTS idx_messages_created_at")
    checked = run_playbook("playbooks/maintenance.yml", "--tags", "monthly", "--limit", "el_bot", "--check",
                           "-e", "maintenance_restart=false")
    assert checked.rc == 0, checked
    recap = checked.output[checked.output.index("PLAY RECAP"):]
    line = next(l for l in recap.splitlines() if l.startswith(host))
    assert "changed=1" in line, line
    assert "idx_messages_created_at" not in _indexes(host)
    done = run_playbook("playbooks/maintenance.yml", "--tags", "monthly", "--limit", "el_bot",
                        "-e", "maintenance_restart=false")
    assert done.rc == 0, done
    assert "idx_messages_created_at" in _indexes(host)


def test_the_monthly_purge_deletes_only_old_messages(local_hosts, run_playbook):
    host = local_hosts["el_bot"]
    status, _unused = host_http(host, "POST", "/api/v1/turns",
                                body={"thread_id": "maintenance-purge", "text": "Which messages does the purge keep"})
    assert status == 200
    session = _count(host, "SELECT id FROM sessions WHERE thread_id = 'maintenance-purge'")
    docker_exec(host, "sqlite3", DB, "PRAGMA busy_timeout=5000; INSERT INTO messages (session_id, role, content, created_at) "
                "VALUES (%d, 'user', 'purge me', '%s')" % (session, _days_ago(45)))
    recent = _count(host, "SELECT count(*) FROM messages WHERE julianday(created_at) >= julianday('now', '-30 days')")
    result = run_playbook("playbooks/maintenance.yml", "--tags", "monthly", "--limit", "el_bot",
                          "-e", '{"maintenance_message_retention_days": {"000": 30}, "maintenance_restart": false}')
    assert result.rc == 0, result
    assert _count(host, "SELECT count(*) FROM messages WHERE content = 'purge me'") == 0
    assert _count(host, "SELECT count(*) FROM messages") == recent
    status, body = host_http(host, "GET", "/api/v1/sessions/maintenance-purge")
    assert status == 200, body


def test_inventory_values_win_over_the_playbook_defaults(tmp_path, run_playbook):
    """maintenance_* set in group_vars are the values the play uses (play vars used to outrank them).

    A host of this machine (connection local) with one SQLite service whose layout roots are moved
    under tmp_path, so the monthly schedule works on a real database file without containers.
    """
    roots = {name: str(tmp_path / name) for name in ("data_root", "log_root", "config_root", "install_root")}
    db_path = os.path.join(roots["data_root"], "inv-check", "data", "el_sessions.db")
    os.makedirs(os.path.dirname(db_path))
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript("""
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL DEFAULT 'default');
        CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id),
                               content TEXT, created_at TEXT NOT NULL);
        INSERT INTO sessions (id) VALUES (1);
    """)
    connection.executemany("INSERT INTO messages (session_id, content, created_at) VALUES (1, ?, ?)",
                           [("old", _days_ago(12)), ("new", _days_ago(2))])
    connection.commit()
    connection.close()

    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(textwrap.dedent("""\
        all:
          children:
            agent_services:
              children:
                el_bot:
                  hosts:
                    maintenance-local:
                      ansible_connection: local
                      ansible_python_interpreter: %s
                      ansible_become: false
        """ % sys.executable))
    (inventory / "group_vars" / "el_bot.yml").write_text(textwrap.dedent("""\
        opskit_services:
          - {name: inv-check, runbook: "000", port: 18999}
        opskit_layout_roots: %s
        maintenance_health_timeout: 300
        maintenance_restart: false
        maintenance_message_retention_days: {"000": 10}
        maintenance_sqlite_indexes:
          - {name: idx_inventory_only, table: messages, columns: [session_id]}
        """ % roots))

    result = run_playbook("playbooks/maintenance.yml", "--tags", "monthly", inventory=str(inventory))
    assert result.rc == 0, result
    assert "health_timeout=300" in result.output, result
    assert "restart=False" in result.output, result

    connection = sqlite3.connect(db_path)
    try:
        contents = [row[0] for row in connection.execute("SELECT content FROM messages ORDER BY id")]
        indexes = sorted(row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'"))
    finally:
        connection.close()
    # retention 10 days for runbook 000 (the playbook's default purges runbook 003's stores only)
    assert contents == ["new"]
    # the inventory's index list replaced the playbook's three
    assert indexes == ["idx_inventory_only"]
