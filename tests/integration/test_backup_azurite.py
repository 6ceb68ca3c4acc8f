"""Backup sets in Azure Blob Storage, against Azurite (the Azure Storage emulator).

Needs Azurite: `npm install --prefix .cache/azurite azurite` (or `azurite-blob`
on PATH, or OPSKIT_AZURITE_BLOB=/path/to/azurite-blob). Skipped without it.
Runs the modules through ansible-playbook (connection local), as the backup
and restore roles do on the controller.
"""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.opskit.ops.plugins.module_utils._backup_blob import (  # noqa: E402
    BlobSetError,
    container_client,
    download_set,
    list_remote_sets,
    service_client,
    set_prefix,
    upload_set,
)
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import (  # noqa: E402
    add_item,
    complete_set,
    start_set,
)
from ansible_collections.opskit.ops.plugins.module_utils._backup_sqlite import online_backup  # noqa: E402


def make_backup_set(root, host, name, rows=300):
    src = os.path.join(str(root), "live-%s.db" % name)
    conn = sqlite3.connect(src)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, thread TEXT)")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id INT, body TEXT)")
    conn.executemany("INSERT INTO sessions(thread) VALUES (?)", [("t%d" % i,) for i in range(rows)])
    conn.executemany("INSERT INTO messages(session_id, body) VALUES (?, ?)", [(i % rows, "m%d" % i) for i in range(rows * 5)])
    conn.commit()
    conn.close()
    path = start_set(os.path.join(str(root), "sets"), host, name, meta={"opskit_version": "test"})
    os.makedirs(os.path.join(path, "el-bot"))
    facts = online_backup(src, os.path.join(path, "el-bot", "el_sessions.db"))
    add_item(path, "el-bot/el_sessions.db", "sqlite", kind="sqlite-backup-api", service="el-bot", source=src,
             counts=facts["tables"], expected_sha256=facts["sha256"])
    os.makedirs(os.path.join(path, "el-bot", "tools"))
    with open(os.path.join(path, "el-bot", "tools.tar.gz"), "wb") as handle:
        handle.write(os.urandom(2048))
    add_item(path, "el-bot/tools.tar.gz", "tools", service="el-bot")
    os.rmdir(os.path.join(path, "el-bot", "tools"))
    complete_set(path)
    return path, src


def run_playbook(tmp_path, tasks, extra_env=None):
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                                     "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               **(extra_env or {}))
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", str(playbook)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert "{" in proc.stdout, proc.stdout + proc.stderr
    out, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    results = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]
    return proc.returncode, results


def test_upload_download_restore_and_verify_through_ansible(azurite, tmp_path):
    set_path, src = make_backup_set(tmp_path, "opskit-el-bot", "20250115T103000Z")
    dest = tmp_path / "downloaded"
    restored = tmp_path / "restored.db"
    common = {"connection_string": azurite, "container": "opskit-backups", "host": "opskit-el-bot"}
    rc, results = run_playbook(tmp_path, [
        {"name": "upload", "opskit.ops.backup_blob": dict(common, action="upload", src=set_path)},
        {"name": "upload again", "opskit.ops.backup_blob": dict(common, action="upload", src=set_path)},
        {"name": "list", "opskit.ops.backup_blob": dict(common, action="list")},
        {"name": "download", "opskit.ops.backup_blob": dict(common, action="download", dest=str(dest))},
        {"name": "verify", "opskit.ops.backup_manifest": {"action": "verify",
                                                          "path": str(dest / "opskit-el-bot" / "20250115T103000Z")}},
        {"name": "restore", "opskit.ops.sqlite_backup": {
            "direction": "restore", "src": str(dest / "opskit-el-bot" / "20250115T103000Z" / "el-bot" / "el_sessions.db"),
            "dest": str(restored),
            "sha256": "{{ (lookup('file', '%s') | from_json)['items'][0]['sha256'] }}" % (
                dest / "opskit-el-bot" / "20250115T103000Z" / "manifest.json"),
            "tables": "{{ (lookup('file', '%s') | from_json)['items'][0]['counts'] }}" % (
                dest / "opskit-el-bot" / "20250115T103000Z" / "manifest.json")}},
    ])
    assert rc == 0, results
    upload, again, listing, download, verify, restore = results
    assert upload["changed"] is True
    assert upload["uploaded"][-1] == "opskit-el-bot/20250115T103000Z/manifest.json"  # manifest last
    assert len(upload["uploaded"]) == 3
    assert (again["changed"], len(again["unchanged"])) == (False, 3)
    assert listing["newest_complete"] == "20250115T103000Z"
    assert download["files"] == ["el-bot/el_sessions.db", "el-bot/tools.tar.gz"]
    assert verify["ok"] is True
    assert restore["integrity"] == "ok"
    # Every record identical to the source.
    a, b = sqlite3.connect(src), sqlite3.connect(str(restored))
    for table in ("sessions", "messages"):
        assert a.execute("SELECT * FROM %s ORDER BY id" % table).fetchall() == \
            b.execute("SELECT * FROM %s ORDER BY id" % table).fetchall()
    a.close()
    b.close()


def test_interrupted_upload_is_incomplete_and_never_downloaded(azurite, tmp_path):
    set_path, _src = make_backup_set(tmp_path, "opskit-h2", "20250116T000000Z", rows=10)
    client = container_client(service_client(azurite), "opskit-backups", create=True)
    prefix = set_prefix("", "opskit-h2", "20250116T000000Z")
    upload_set(client, set_path, prefix)
    client.delete_blob(prefix + "manifest.json")  # as if the upload stopped before its last blob
    sets = list_remote_sets(client, "", "opskit-h2")
    assert [(s["name"], s["complete"]) for s in sets] == [("20250116T000000Z", False)]
    with pytest.raises(BlobSetError, match="incomplete"):
        download_set(client, prefix, str(tmp_path / "dl"))
    assert not os.path.exists(str(tmp_path / "dl"))


def test_corrupted_blob_is_refused_naming_the_file(azurite, tmp_path):
    set_path, _src = make_backup_set(tmp_path, "opskit-h3", "20250117T000000Z", rows=10)
    client = container_client(service_client(azurite), "opskit-backups", create=True)
    prefix = set_prefix("", "opskit-h3", "20250117T000000Z")
    upload_set(client, set_path, prefix)
    name = prefix + "el-bot/tools.tar.gz"
    data = bytearray(client.get_blob_client(name).download_blob().readall())
    data[100] ^= 0xFF
    client.upload_blob(name, bytes(data), overwrite=True)
    with pytest.raises(BlobSetError, match="el-bot/tools.tar.gz: checksum mismatch after download, expected sha256"):
        download_set(client, prefix, str(tmp_path / "dl"))


def test_retention_in_the_container(azurite, tmp_path):
    names = ["20250101T000000Z", "20250102T000000Z", "20250103T000000Z"]
    common = {"connection_string": azurite, "container": "opskit-backups", "host": "opskit-h4"}
    tasks = []
    for name in names:
        set_path, _src = make_backup_set(tmp_path, "opskit-h4", name, rows=5)
        tasks.append({"opskit.ops.backup_blob": dict(common, action="upload", src=set_path)})
    policy = {"default": {"keep_last": 2, "daily": 0, "weekly": 0, "monthly": 0},
              "tools": {"keep_last": 2, "max_age_days": 0, "daily": 0, "weekly": 0, "monthly": 0}}
    tasks.append({"opskit.ops.backup_blob": dict(common, action="retain", policies=policy, after_set=names[-1])})
    tasks.append({"opskit.ops.backup_blob": dict(common, action="list")})
    rc, results = run_playbook(tmp_path, tasks)
    assert rc == 0, results
    assert results[-2]["plan"]["delete"] == [names[0]]
    assert [s["name"] for s in results[-1]["sets"]] == names[1:]
