import os
import sqlite3

from ansible_collections.opskit.ops.plugins.modules import sqlite_backup

from _module_harness import run_module


def make_db(path, rows=50):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO sessions(v) VALUES (?)", [("x%d" % i,) for i in range(rows)])
    conn.commit()
    conn.close()


def test_backup_then_unchanged_when_dest_exists(monkeypatch, tmp_path):
    src, dest = str(tmp_path / "live.db"), str(tmp_path / "copy.db")
    make_db(src)
    result, failed = run_module(monkeypatch, sqlite_backup.main, {"src": src, "dest": dest})
    assert failed is False
    assert result["changed"] is True
    assert result["integrity"] == "ok"
    assert result["tables"] == {"sessions": 50}
    assert result["journal_mode"] == "wal"
    result, failed = run_module(monkeypatch, sqlite_backup.main, {"src": src, "dest": dest})
    assert (failed, result["changed"]) == (False, False)


def test_check_mode_writes_nothing(monkeypatch, tmp_path):
    src, dest = str(tmp_path / "live.db"), str(tmp_path / "copy.db")
    make_db(src)
    result, failed = run_module(monkeypatch, sqlite_backup.main, {"src": src, "dest": dest}, check_mode=True)
    assert failed is False
    assert result["changed"] is True
    assert "online backup API" in result["would"]
    assert not os.path.exists(dest)


def test_missing_source_fails(monkeypatch, tmp_path):
    result, failed = run_module(monkeypatch, sqlite_backup.main, {"src": str(tmp_path / "x.db"), "dest": str(tmp_path / "y")})
    assert failed is True
    assert "does not exist" in result["msg"]


def test_restore_refuses_a_flipped_byte_and_leaves_live_untouched(monkeypatch, tmp_path):
    live, copy = str(tmp_path / "live.db"), str(tmp_path / "copy.db")
    make_db(live, rows=10)
    result, _failed = run_module(monkeypatch, sqlite_backup.main, {"src": live, "dest": copy})
    with open(copy, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x42")
    with open(live, "rb") as handle:
        before = handle.read()
    out, failed = run_module(monkeypatch, sqlite_backup.main, {
        "direction": "restore", "src": copy, "dest": live, "sha256": result["sha256"], "tables": result["tables"],
        "aside_dir": str(tmp_path / "aside")})
    assert failed is True
    assert "copy.db: checksum mismatch, expected sha256 %s" % result["sha256"] in out["msg"]
    with open(live, "rb") as handle:
        assert handle.read() == before
    assert not os.path.exists(str(tmp_path / "aside"))


def test_restore_in_check_mode_only_verifies(monkeypatch, tmp_path):
    live, copy = str(tmp_path / "live.db"), str(tmp_path / "copy.db")
    make_db(live, rows=10)
    result, _failed = run_module(monkeypatch, sqlite_backup.main, {"src": live, "dest": copy})
    out, failed = run_module(monkeypatch, sqlite_backup.main, {
        "direction": "restore", "src": copy, "dest": str(tmp_path / "new.db"), "sha256": result["sha256"]},
        check_mode=True)
    assert failed is False
    assert out["tables"] == {"sessions": 10}
    assert not os.path.exists(str(tmp_path / "new.db"))
