"""Backup sets: manifest written last, verification by file, listing, killed runs."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import sha256_file
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import (
    ManifestError,
    add_item,
    complete_set,
    delete_set,
    find_set,
    list_sets,
    load_manifest,
    prune_stores,
    start_set,
    verify_set,
)

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "collections"))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def make_set(root, host="h1", stamp="20250115T103000Z", files=None):
    path = start_set(str(root), host, stamp, meta={"opskit_version": "0.1.0"})
    for rel, (store, data) in (files or {"svc/db.sqlite": ("sqlite", b"x" * 100)}).items():
        write(os.path.join(path, rel), data)
        add_item(path, rel, store, service="svc", source="/src/" + rel, counts={"rows": 1},
                 extra={"tool_versions": {"sqlite": "3.46.1"}})
    return path


def test_complete_set_has_manifest_with_every_item(tmp_path):
    path = make_set(tmp_path, files={"svc/db.sqlite": ("sqlite", b"a" * 10), "redis/dump.rdb": ("redis", b"b" * 20)})
    assert load_manifest(path) is None  # not complete before complete_set
    manifest = complete_set(path)
    assert manifest["complete"] is True
    assert manifest["opskit_version"] == "0.1.0"
    assert manifest["tool_versions"] == {"sqlite": "3.46.1"}
    assert manifest["total_size"] == 30
    by_file = dict((i["file"], i) for i in manifest["items"])
    assert by_file["redis/dump.rdb"]["sha256"] == sha256_file(os.path.join(path, "redis/dump.rdb"))
    assert by_file["svc/db.sqlite"]["store"] == "sqlite"
    assert by_file["svc/db.sqlite"]["counts"] == {"rows": 1}
    assert sorted(os.listdir(path)) == ["manifest.json", "redis", "svc"]
    assert load_manifest(path) == manifest


def test_sets_are_never_reused(tmp_path):
    make_set(tmp_path)
    with pytest.raises(ManifestError, match="already exists"):
        start_set(str(tmp_path), "h1", "20250115T103000Z")


def test_items_must_stay_inside_the_set(tmp_path):
    path = make_set(tmp_path)
    write(str(tmp_path / "outside"), b"x")
    with pytest.raises(ManifestError, match="not inside"):
        add_item(path, str(tmp_path / "outside"), "files")
    with pytest.raises(ManifestError, match="reserved"):
        add_item(path, "manifest.json", "files")


def test_complete_refuses_a_file_changed_after_it_was_added(tmp_path):
    path = make_set(tmp_path)
    write(os.path.join(path, "svc/db.sqlite"), b"y" * 100)
    with pytest.raises(ManifestError, match="svc/db.sqlite: checksum mismatch"):
        complete_set(path)
    assert load_manifest(path) is None


def test_flipped_byte_is_reported_by_name_with_both_checksums(tmp_path):
    path = make_set(tmp_path, files={"svc/db.sqlite": ("sqlite", b"a" * 64), "svc/tools.tar.gz": ("tools", b"t" * 8)})
    complete_set(path)
    target = os.path.join(path, "svc/db.sqlite")
    expected = sha256_file(target)
    with open(target, "r+b") as handle:
        handle.seek(10)
        handle.write(b"b")
    result = verify_set(path)
    assert result["ok"] is False
    assert result["mismatches"] == [{"file": "svc/db.sqlite", "expected": expected, "actual": sha256_file(target),
                                     "expected_size": 64, "actual_size": 64}]
    assert "svc/db.sqlite: checksum mismatch, expected sha256 %s, actual %s" % (expected, sha256_file(target)) in result["msg"]
    # Only the tools item: still fine.
    assert verify_set(path, stores=["tools"])["ok"] is True


def test_missing_and_unlisted_files(tmp_path):
    path = make_set(tmp_path)
    complete_set(path)
    os.unlink(os.path.join(path, "svc/db.sqlite"))
    write(os.path.join(path, "stray"), b"z")
    result = verify_set(path)
    assert result["missing"] == ["svc/db.sqlite"]
    assert result["unlisted"] == ["stray"]
    assert result["ok"] is False


def test_listing_and_finding_the_newest_complete_set(tmp_path):
    complete_set(make_set(tmp_path, stamp="20250101T000000Z"))
    complete_set(make_set(tmp_path, stamp="20250102T000000Z"))
    make_set(tmp_path, stamp="20250103T000000Z")  # incomplete, newer
    os.makedirs(str(tmp_path / "h1" / "not-a-set"))
    sets = list_sets(str(tmp_path), "h1")
    assert [(s["name"], s["complete"]) for s in sets] == [
        ("20250101T000000Z", True), ("20250102T000000Z", True), ("20250103T000000Z", False)]
    chosen, manifest = find_set(str(tmp_path), "h1")
    assert chosen["name"] == "20250102T000000Z"
    assert manifest["name"] == "20250102T000000Z"
    assert find_set(str(tmp_path), "h1", "20250101T000000Z")[0]["name"] == "20250101T000000Z"
    with pytest.raises(ManifestError, match="not complete"):
        find_set(str(tmp_path), "h1", "20250103T000000Z")
    with pytest.raises(ManifestError, match="does not exist"):
        find_set(str(tmp_path), "h1", "20250104T000000Z")
    with pytest.raises(ManifestError, match="no complete backup set"):
        find_set(str(tmp_path), "h2")


def test_a_manifest_without_complete_true_does_not_count(tmp_path):
    path = make_set(tmp_path)
    write(os.path.join(path, "manifest.json"), json.dumps({"items": []}).encode())
    assert load_manifest(path) is None
    write(os.path.join(path, "manifest.json"), b"{truncated")
    assert load_manifest(path) is None


def test_prune_and_delete(tmp_path):
    path = make_set(tmp_path, files={"svc/db.sqlite": ("sqlite", b"a"), "svc/tools.tar.gz": ("tools", b"t")})
    complete_set(path)
    assert prune_stores(path, ["tools"]) == ["svc/tools.tar.gz"]
    manifest = load_manifest(path)
    assert [i["file"] for i in manifest["items"]] == ["svc/db.sqlite"]
    assert [p["file"] for p in manifest["pruned"]] == ["svc/tools.tar.gz"]
    assert verify_set(path)["ok"] is True
    delete_set(path)
    assert not os.path.exists(path)


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys, time
    # a job started in the background by a non-interactive shell inherits SIGINT ignored:
    # restore Python's Ctrl-C handler so the SIGINT case tests what an operator's Ctrl-C does
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, %(collections)r)
    from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import add_item, complete_set, start_set
    path = start_set(%(root)r, "h1", "20250105T000000Z")
    for n in range(1000):
        rel = "svc/part%%04d" %% n
        os.makedirs(os.path.join(path, "svc"), exist_ok=True)
        with open(os.path.join(path, rel), "wb") as f:
            f.write(os.urandom(4096))
        add_item(path, rel, "files")
        if n == 5:
            print("ready", flush=True)
        time.sleep(0.01)
    complete_set(path)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_backup_killed_halfway_is_never_complete_and_older_sets_survive(tmp_path, sig):
    older = make_set(tmp_path, stamp="20250104T000000Z")
    complete_set(older)
    before = verify_set(older)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER % {"collections": COLLECTIONS, "root": str(tmp_path)}],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=10)
    sets = dict((s["name"], s) for s in list_sets(str(tmp_path), "h1"))
    assert sets["20250105T000000Z"]["complete"] is False
    assert sets["20250105T000000Z"]["in_progress"] is True
    assert find_set(str(tmp_path), "h1")[0]["name"] == "20250104T000000Z"
    assert verify_set(older) == before
