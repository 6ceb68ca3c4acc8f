"""Runbook 001's `checkpoints` container exported and imported, for real, against Azurite.

Needs Azurite (see test_backup_azurite.py); skipped without it. Runs
opskit.ops.backup_blob (actions export/import) through ansible-playbook, as
playbooks/backup.yml and restore.yml do on the controller.
"""
import base64
import hashlib
import json
import os

import pytest

from test_backup_azurite import run_playbook

from ansible_collections.opskit.ops.plugins.module_utils._azure_blob import ContainerCopyError, import_container
from ansible_collections.opskit.ops.plugins.module_utils._backup_blob import container_client, service_client
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import (
    complete_set,
    start_set,
    verify_set,
)

BLOBS = {
    "job-0001/state.json": b'{"step": 3, "status": "running"}',
    "job-0001/memory/short.json": b'{"turns": []}',
    "job-0002/state.json": b'{"step": 9, "status": "done"}',
    "big/blob.bin": os.urandom(300 * 1024),
}


def fill(connection, container, blobs=None):
    blobs = BLOBS if blobs is None else blobs
    client = container_client(service_client(connection), container, create=True)
    for name, data in blobs.items():
        client.upload_blob(name, data, overwrite=True, metadata={"job": name.split("/", maxsplit=1)[0]})
    return client


def test_export_into_a_backup_set_then_import_into_a_scratch_container(azurite, tmp_path):
    fill(azurite, "checkpoints")
    set_path = start_set(str(tmp_path / "sets"), "azure-agent-framework", "20250115T103000Z")
    dest = os.path.join(set_path, "checkpoints")
    common = {"connection_string": azurite}
    rc, results = run_playbook(tmp_path, [
        {"name": "export", "opskit.ops.backup_blob": dict(common, action="export", container="checkpoints",
                                                          dest=dest, set_path=set_path)},
        {"name": "export again", "opskit.ops.backup_blob": dict(common, action="export", container="checkpoints",
                                                                dest=dest)},
        {"name": "import check", "opskit.ops.backup_blob": dict(common, action="import", container="checkpoints-drill",
                                                                src=dest), "check_mode": True},
        {"name": "import", "opskit.ops.backup_blob": dict(common, action="import", container="checkpoints-drill",
                                                          src=dest)},
        {"name": "import again", "opskit.ops.backup_blob": dict(common, action="import", container="checkpoints-drill",
                                                                src=dest)},
    ])
    assert rc == 0, results
    export, again, check, imported, unchanged = results
    assert (export["changed"], export["count"], sorted(export["downloaded"])) == (True, 4, sorted(BLOBS))
    assert export["total_size"] == sum(len(v) for v in BLOBS.values())
    assert (again["changed"], again["downloaded"]) == (False, [])
    # Check mode wrote nothing: the scratch container did not exist before the real import.
    assert (check["changed"], check["created"], sorted(check["uploaded"])) == (True, True, sorted(BLOBS))
    assert (imported["changed"], imported["created"], imported["verified"]) == (True, True, True)
    assert (unchanged["changed"], unchanged["uploaded"]) == (False, [])
    # The files are items (store blobs) of the set: completing and verifying it re-hashes every one.
    manifest = complete_set(set_path)
    assert sorted(i["file"] for i in manifest["items"]) == sorted(
        ["checkpoints/blobs/" + n for n in BLOBS] + ["checkpoints/blobs.manifest.json"])
    assert set(i["store"] for i in manifest["items"]) == {"blobs"}
    assert verify_set(set_path)["ok"] is True
    # Every blob in the scratch container is byte-identical, with its metadata and an MD5.
    drill = container_client(service_client(azurite), "checkpoints-drill")
    for name, data in BLOBS.items():
        blob = drill.get_blob_client(name)
        assert blob.download_blob().readall() == data
        props = blob.get_blob_properties()
        assert props.metadata == {"job": name.split("/", maxsplit=1)[0]}
        assert bytes(props.content_settings.content_md5) == hashlib.md5(data).digest()


def test_export_follows_the_container_and_import_restores_a_changed_blob(azurite, tmp_path):
    client = fill(azurite, "checkpoints-b")
    dest = str(tmp_path / "export")
    common = {"connection_string": azurite, "container": "checkpoints-b"}
    rc, results = run_playbook(tmp_path, [{"opskit.ops.backup_blob": dict(common, action="export", dest=dest)}])
    assert rc == 0, results
    # The application changes one blob and deletes another after the backup.
    client.upload_blob("job-0001/state.json", b'{"step": 4}', overwrite=True)
    client.delete_blob("job-0002/state.json")
    client.upload_blob("job-0003/state.json", b'{"step": 1}')
    rc, results = run_playbook(tmp_path, [
        {"name": "restore", "opskit.ops.backup_blob": dict(common, action="import", src=dest)},
        {"name": "restore exact", "opskit.ops.backup_blob": dict(common, action="import", src=dest,
                                                                 delete_extra=True)},
    ])
    assert rc == 0, results
    restore, exact = results
    assert sorted(restore["uploaded"]) == ["job-0001/state.json", "job-0002/state.json"]
    assert restore["extra"] == ["job-0003/state.json"] and restore["deleted"] == []
    assert (exact["uploaded"], exact["deleted"]) == ([], ["job-0003/state.json"])
    assert sorted(b.name for b in client.list_blobs()) == sorted(BLOBS)
    assert client.get_blob_client("job-0001/state.json").download_blob().readall() == BLOBS["job-0001/state.json"]
    # A second export drops the file of a blob that left the container.
    client.delete_blob("big/blob.bin")
    rc, results = run_playbook(tmp_path, [{"opskit.ops.backup_blob": dict(common, action="export", dest=dest)}])
    assert rc == 0, results
    assert (results[0]["changed"], results[0]["count"], results[0]["removed"]) == (True, 3, ["big/blob.bin"])
    assert not os.path.exists(os.path.join(dest, "blobs", "big", "blob.bin"))


def test_import_refuses_a_corrupted_export_before_writing_anything(azurite, tmp_path):
    fill(azurite, "checkpoints-c")
    dest = str(tmp_path / "export")
    rc, results = run_playbook(tmp_path, [{"opskit.ops.backup_blob": {
        "connection_string": azurite, "container": "checkpoints-c", "action": "export", "dest": dest}}])
    assert rc == 0, results
    with open(os.path.join(dest, "blobs", "job-0002", "state.json"), "ab") as handle:
        handle.write(b" ")
    target = container_client(service_client(azurite), "checkpoints-c-restore")
    with pytest.raises(ContainerCopyError, match="job-0002/state.json: checksum mismatch"):
        import_container(target, "checkpoints-c-restore", dest)
    assert target.exists() is False
    rc, results = run_playbook(tmp_path, [{"opskit.ops.backup_blob": {
        "connection_string": azurite, "container": "checkpoints-c-restore", "action": "import", "src": dest}}])
    assert rc != 0 and "failed verification, nothing was uploaded" in results[0]["msg"]


def test_export_detects_a_download_that_does_not_match_the_service_md5(azurite, tmp_path):
    client = container_client(service_client(azurite), "checkpoints-d", create=True)
    # A blob whose stored Content-MD5 does not describe its data (what a corrupted transfer looks like).
    from azure.storage.blob import ContentSettings
    client.upload_blob("job/state.json", b"actual data", overwrite=True)
    client.get_blob_client("job/state.json").set_http_headers(
        ContentSettings(content_type="application/json", content_md5=bytearray(hashlib.md5(b"other").digest())))
    dest = str(tmp_path / "export")
    rc, results = run_playbook(tmp_path, [{"opskit.ops.backup_blob": {
        "connection_string": azurite, "container": "checkpoints-d", "action": "export", "dest": dest}}])
    assert rc != 0
    assert "job/state.json: Content-MD5 mismatch after download" in results[0]["msg"]
    assert base64.b64encode(hashlib.md5(b"other").digest()).decode() in results[0]["msg"]
    assert not os.path.exists(os.path.join(dest, "blobs.manifest.json"))
    assert json.dumps(results[0]).count(azurite.split("AccountKey=")[1].split(";")[0]) == 0
