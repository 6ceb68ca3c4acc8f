"""Online SQLite backup on a live WAL database with a concurrent writer."""
import os
import sqlite3
import threading
import time

import pytest

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import sha256_file
from ansible_collections.opskit.ops.plugins.module_utils._backup_sqlite import (
    SqliteBackupError,
    counts_mismatch,
    online_backup,
    restore_file,
    verify_backup_file,
)

SCHEMA = """
CREATE TABLE sessions (id INTEGER PRIMARY KEY, thread TEXT UNIQUE, last_question TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id), body BLOB);
CREATE TABLE slots (id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id), name TEXT, value TEXT);
"""


def make_db(path, sessions=200, messages=20):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    for s in range(sessions):
        conn.execute("INSERT INTO sessions(thread, last_question) VALUES (?, ?)", ("t%d" % s, "q%d" % s))
        conn.executemany("INSERT INTO messages(session_id, body) VALUES (?, ?)",
                         [(s + 1, os.urandom(400)) for _m in range(messages)])
        conn.execute("INSERT INTO slots(session_id, name, value) VALUES (?, 'stage', 'x')", (s + 1,))
    conn.commit()
    return conn


class Writer(threading.Thread):
    """The service: commits a message every millisecond and records every error and its worst latency."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.errors = []
        self.commits = 0
        self.worst = 0.0

    def run(self):
        conn = sqlite3.connect(self.path, timeout=5)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                conn.execute("INSERT INTO messages(session_id, body) VALUES (1, ?)", (os.urandom(400),))
                conn.commit()
                self.commits += 1
            except sqlite3.Error as exc:  # pragma: no cover - the assertion reports it
                self.errors.append(repr(exc))
            self.worst = max(self.worst, time.monotonic() - started)
            time.sleep(0.001)
        conn.close()


def test_backup_of_live_wal_database_passes_integrity_and_writer_never_fails(tmp_path):
    src = str(tmp_path / "el_sessions.db")
    make_db(src, sessions=400).close()
    writer = Writer(src)
    writer.start()
    time.sleep(0.1)
    try:
        before = writer.commits
        facts = online_backup(src, str(tmp_path / "copy.db"), pages=16, sleep=0.002)
        during = writer.commits - before
    finally:
        writer.stop.set()
        writer.join()
    assert writer.errors == []
    assert during > 0  # the writer kept committing while the backup ran
    assert facts["integrity"] == "ok"
    assert facts["restarts"] == 0
    assert facts["steps"] > 1
    assert facts["journal_mode"] == "wal"
    assert facts["tables"]["sessions"] == 400
    assert facts["tables"]["slots"] == 400
    assert facts["tables"]["messages"] >= 400 * 20
    assert facts["sha256"] == sha256_file(str(tmp_path / "copy.db"))
    assert facts["size"] == os.path.getsize(str(tmp_path / "copy.db"))
    # No temporary file is left behind (the writer has closed, so no -wal/-shm either).
    assert sorted(os.listdir(str(tmp_path))) == ["copy.db", "el_sessions.db"]


def test_copy_is_one_consistent_snapshot(tmp_path):
    """Counts of the copy equal the counts of one moment, never a mix."""
    src = str(tmp_path / "db.sqlite")
    make_db(src, sessions=50).close()
    writer = Writer(src)
    writer.start()
    try:
        facts = online_backup(src, str(tmp_path / "copy.db"), pages=4, sleep=0.001)
    finally:
        writer.stop.set()
        writer.join()
    conn = sqlite3.connect(str(tmp_path / "copy.db"))
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == facts["tables"]["messages"]
    assert conn.execute("SELECT max(id) FROM messages").fetchone()[0] == facts["tables"]["messages"]
    conn.close()


def test_missing_source_is_an_error(tmp_path):
    with pytest.raises(SqliteBackupError, match="does not exist"):
        online_backup(str(tmp_path / "nope.db"), str(tmp_path / "copy.db"))
    assert os.listdir(str(tmp_path)) == []


def test_flipped_byte_is_refused_with_file_and_checksums(tmp_path):
    src = str(tmp_path / "db.sqlite")
    make_db(src, sessions=10).close()
    facts = online_backup(src, str(tmp_path / "copy.db"))
    with open(str(tmp_path / "copy.db"), "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(SqliteBackupError) as info:
        verify_backup_file(str(tmp_path / "copy.db"), facts["sha256"], facts["tables"])
    message = str(info.value)
    assert "copy.db" in message
    assert facts["sha256"] in message
    assert "checksum mismatch" in message


def test_restore_verifies_first_and_keeps_the_old_database_aside(tmp_path):
    live = str(tmp_path / "live.db")
    make_db(live, sessions=5).close()
    backup_src = str(tmp_path / "src.db")
    make_db(backup_src, sessions=30).close()
    facts = online_backup(backup_src, str(tmp_path / "backup.db"))
    old_digest = sha256_file(live)
    aside = str(tmp_path / "aside")
    out = restore_file(str(tmp_path / "backup.db"), live, expected_sha256=facts["sha256"],
                       expected_tables=facts["tables"], aside_dir=aside)
    assert [os.path.basename(m["to"]) for m in out["aside"]] == ["live.db"]
    assert sha256_file(os.path.join(aside, "live.db")) == old_digest
    conn = sqlite3.connect(live)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 30
    conn.close()


def test_restore_refuses_wrong_counts_and_leaves_live_untouched(tmp_path):
    live = str(tmp_path / "live.db")
    make_db(live, sessions=5).close()
    facts = online_backup(live, str(tmp_path / "backup.db"))
    before = sha256_file(live)
    wrong = dict(facts["tables"], sessions=6)
    with pytest.raises(SqliteBackupError, match="sessions expected 6 actual 5"):
        restore_file(str(tmp_path / "backup.db"), live, expected_tables=wrong, aside_dir=str(tmp_path / "aside"))
    assert sha256_file(live) == before
    assert not os.path.exists(str(tmp_path / "aside"))


def test_counts_mismatch_lists_each_table():
    assert counts_mismatch({"a": 1, "b": "2"}, {"a": 1, "b": 3, "c": 0}) == [
        {"table": "b", "expected": 2, "actual": 3},
        {"table": "c", "expected": None, "actual": 0},
    ]
