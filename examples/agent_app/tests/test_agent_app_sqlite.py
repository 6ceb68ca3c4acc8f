"""SQLite store (runbook 000): WAL, foreign keys, schema at start, online backup, restore."""

import sqlite3
import threading

import pytest

from agent_app.pipeline import plan_turn
from agent_app.stores import StoreError
from agent_app.stores.sqlite_store import SqliteStore

from conftest import turn


def test_schema_wal_and_foreign_keys(client, tmp_path):
    db = tmp_path / "data" / "el_sessions.db"
    assert db.exists()
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "messages", "slots", "jobs"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    fks = {r[2] for r in conn.execute("PRAGMA foreign_key_list(messages)")}
    assert fks == {"sessions"}
    conn.close()
    # the service's own connections enforce foreign keys
    store = SqliteStore(str(db))
    with store._conn() as c:
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):
            c.execute("INSERT INTO messages (session_id, role, content, created_at) "
                      "VALUES (999, 'user', 'x', '2024-01-01')")


def test_parent_directory_created_and_missing_db_not_recreated(tmp_path):
    store = SqliteStore(str(tmp_path / "a" / "b" / "s.db"))
    store.init()
    assert store.health() == {"store": "ok"}
    (tmp_path / "a" / "b" / "s.db").unlink()
    assert store.health()["store"].startswith("error")
    assert not (tmp_path / "a" / "b" / "s.db").exists()
    with pytest.raises(StoreError):
        store.process_turn("t", "some words here", "direct_llm", None,
                           __import__("datetime").datetime.now(), lambda s, q: plan_turn("x y z", s, q))


def test_online_backup_while_writing(client, tmp_path):
    db = tmp_path / "data" / "el_sessions.db"
    stop = threading.Event()
    backups, errors = [], []

    def backup_loop():
        n = 0
        while not stop.is_set():
            n += 1
            target = tmp_path / f"backup-{n}.db"
            try:
                src = sqlite3.connect(db)
                dst = sqlite3.connect(target)
                src.backup(dst, pages=2, sleep=0)
                dst.close()
                src.close()
                backups.append(target)
            except sqlite3.Error as exc:  # pragma: no cover - failure is the assertion
                errors.append(exc)

    thread = threading.Thread(target=backup_loop)
    thread.start()
    try:
        codes = [turn(client, f"b{i % 3}", f"backup test message {i} about replicas").status_code
                 for i in range(40)]
    finally:
        stop.set()
        thread.join()
    assert codes == [200] * 40
    assert errors == []
    assert backups
    check = sqlite3.connect(backups[-1])
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


def test_restore_backup_with_service_stopped(make_client, tmp_path):
    first = make_client(root=tmp_path / "one")
    turn(first, "restore-me", "Known data for the restore test")
    expected = first.get("/api/v1/sessions/restore-me").json()
    first.__exit__(None, None, None)
    src = sqlite3.connect(tmp_path / "one" / "data" / "el_sessions.db")
    dst = sqlite3.connect(tmp_path / "el_sessions.backup.db")
    src.backup(dst)
    src.close()
    dst.close()

    target = tmp_path / "two" / "data"
    target.mkdir(parents=True)
    (target / "el_sessions.db").write_bytes((tmp_path / "el_sessions.backup.db").read_bytes())
    second = make_client(root=tmp_path / "two")
    assert second.get("/api/v1/sessions/restore-me").json() == expected
    # the restored session continues (last_question / SlotRegistry come back)
    assert turn(second, "restore-me", "Known data for the restore test").json()["qcheck"]["reason"] == \
        "duplicate_question"
