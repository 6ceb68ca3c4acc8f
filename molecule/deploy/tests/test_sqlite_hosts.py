"""Runbook 000's SQLite store (and the same store on the other SQLite services): WAL, tables created at start."""
from _hosts import hosts

testinfra_hosts = hosts("mol-el-bot", "mol-runtime", "mol-dynamic-tools")
NAMES = {"mol-el-bot": "el-bot", "mol-runtime": "semibot-runtime", "mol-dynamic-tools": "dynamic-tools"}


def test_sqlite_store_in_wal_mode_with_its_tables(host):
    name = NAMES[host.backend.get_hostname()]
    db = "/var/lib/%s/data/el_sessions.db" % name
    assert host.run("sqlite3 %s 'PRAGMA journal_mode'", db).stdout.strip() == "wal"
    tables = host.run("sqlite3 %s .tables", db).stdout.split()
    assert {"sessions", "messages", "slots"} <= set(tables)
