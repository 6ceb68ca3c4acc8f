import os

from ansible_collections.opskit.ops.plugins.modules import backup_manifest, backup_retention

from _module_harness import run_module


def test_start_add_complete_verify_find(monkeypatch, tmp_path):
    root = str(tmp_path)
    out, failed = run_module(monkeypatch, backup_manifest.main,
                             {"action": "start", "root": root, "host": "h", "name": "20250101T000000Z",
                              "meta": {"opskit_version": "0.1.0"}})
    assert failed is False
    path = out["path"]
    with open(os.path.join(path, "db"), "wb") as handle:
        handle.write(b"data")
    out, failed = run_module(monkeypatch, backup_manifest.main,
                             {"action": "add", "path": path, "file": "db", "store": "sqlite", "counts": {"t": 1}})
    assert (failed, out["item"]["size"]) == (False, 4)
    out, failed = run_module(monkeypatch, backup_manifest.main, {"action": "find", "root": root, "host": "h"})
    assert failed is True
    assert "no complete backup set" in out["msg"]
    out, failed = run_module(monkeypatch, backup_manifest.main, {"action": "complete", "path": path})
    assert out["manifest"]["complete"] is True
    out, failed = run_module(monkeypatch, backup_manifest.main, {"action": "find", "root": root, "host": "h"})
    assert (failed, out["name"]) == (False, "20250101T000000Z")
    out, failed = run_module(monkeypatch, backup_manifest.main, {"action": "verify", "path": path})
    assert (failed, out["ok"], out["changed"]) == (False, True, False)
    with open(os.path.join(path, "db"), "wb") as handle:
        handle.write(b"dat4")
    out, failed = run_module(monkeypatch, backup_manifest.main, {"action": "verify", "path": path})
    assert failed is True
    assert out["mismatches"][0]["file"] == "db"
    assert "db: checksum mismatch, expected sha256" in out["msg"]


def test_start_in_check_mode_creates_nothing(monkeypatch, tmp_path):
    out, failed = run_module(monkeypatch, backup_manifest.main,
                             {"action": "start", "root": str(tmp_path), "host": "h"}, check_mode=True)
    assert failed is False
    assert out["changed"] is True
    assert os.listdir(str(tmp_path)) == []


def test_retention_refuses_to_run_after_an_incomplete_backup(monkeypatch, tmp_path):
    run_module(monkeypatch, backup_manifest.main,
               {"action": "start", "root": str(tmp_path), "host": "h", "name": "20250101T000000Z"})
    out, failed = run_module(monkeypatch, backup_retention.main,
                             {"root": str(tmp_path), "host": "h", "after_set": "20250101T000000Z"})
    assert failed is True
    assert "not complete" in out["msg"]
    assert os.path.isdir(str(tmp_path / "h" / "20250101T000000Z"))


def test_retention_deletes_old_sets_and_check_mode_deletes_nothing(monkeypatch, tmp_path):
    root = str(tmp_path)
    names = ["20250101T000000Z", "20250102T000000Z", "20250103T000000Z"]
    for name in names:
        out, _failed = run_module(monkeypatch, backup_manifest.main, {"action": "start", "root": root, "host": "h", "name": name})
        with open(os.path.join(out["path"], "db"), "wb") as handle:
            handle.write(name.encode())
        run_module(monkeypatch, backup_manifest.main, {"action": "add", "path": out["path"], "file": "db", "store": "sqlite"})
        run_module(monkeypatch, backup_manifest.main, {"action": "complete", "path": out["path"]})
    args = {"root": root, "host": "h", "after_set": names[-1],
            "policies": {"sqlite": {"keep_last": 2, "daily": 0, "weekly": 0, "monthly": 0}}}
    out, failed = run_module(monkeypatch, backup_retention.main, args, check_mode=True)
    assert (failed, out["changed"], out["plan"]["delete"]) == (False, True, [names[0]])
    assert sorted(os.listdir(os.path.join(root, "h"))) == names
    out, failed = run_module(monkeypatch, backup_retention.main, args)
    assert out["deleted"] == [os.path.join(root, "h", names[0])]
    assert sorted(os.listdir(os.path.join(root, "h"))) == names[1:]
    out, failed = run_module(monkeypatch, backup_retention.main, args)
    assert out["changed"] is False
