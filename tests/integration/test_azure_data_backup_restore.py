"""Runbook 001's Azure data through the task files that backup.yml, restore.yml and
restore_drill.yml include: backup set -> drill into scratch copies -> restore in place.

Real: Azurite (blobs), the azure-storage-blob and azure-search-documents SDKs,
the opskit modules, the backup set and its manifest. The AI Search service is
the local STAND-IN of azure_search_standin.py. The plays run on localhost
with the same vars file and task files as the playbooks; that the playbooks
select the agent_framework hosts is checked with --list-tasks on inventories/local.
"""
import glob
import json
import os
import subprocess

import pytest

from azure_search_standin import SearchStandIn
from test_azure_search_roundtrip import SCHEMA, documents

from ansible_collections.opskit.ops.plugins.module_utils._backup_blob import container_client, service_client
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import list_sets, verify_set

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BLOBS = {"job-0001/state.json": b'{"step": 3}', "job-0002/state.json": b'{"step": 9}'}


@pytest.fixture
def search(tmp_path):
    standin = SearchStandIn(workdir=str(tmp_path))
    url = standin.start()
    yield standin, url
    standin.stop()


def play(opskit_env, tmp_path, task_file, azure_data, extra_vars=None, check=False):
    book = tmp_path / "play.yml"
    book.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [os.path.join(ROOT, "playbooks", "vars", "azure_data.yml")],
        "vars": dict({"ansible_python_interpreter": "{{ ansible_playbook_python }}", "azure_data": azure_data},
                     **(extra_vars or {})),
        "tasks": [{"ansible.builtin.include_tasks": os.path.join(ROOT, "playbooks", "tasks", task_file)}]}]))
    cmd = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", str(book)]
    if check:
        cmd.append("--check")
    return subprocess.run(cmd, cwd=ROOT, env=opskit_env, capture_output=True, text=True, check=False)


def test_backup_drill_and_restore_of_the_azure_data(azurite, search, tmp_path, opskit_env):
    standin, url = search
    env = dict(opskit_env, REQUESTS_CA_BUNDLE=standin.cert)
    standin.add_index(SCHEMA, documents(80))
    checkpoints = container_client(service_client(azurite), "checkpoints", create=True)
    for name, data in BLOBS.items():
        checkpoints.upload_blob(name, data, overwrite=True)
    settings = {"name": "test", "backup_dir": str(tmp_path / "sets"), "storage_connection_string": azurite,
                "search_endpoint": url, "search_api_key": standin.api_key, "search_indexes": ["agent-knowledge"],
                "drill_report_dir": str(tmp_path / "reports")}

    dry = play(env, tmp_path, "azure_data_backup.yml", settings, check=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert not os.path.exists(str(tmp_path / "sets"))  # check mode wrote nothing

    done = play(env, tmp_path, "azure_data_backup.yml", settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checkpoints 2 blobs, agent-knowledge: 80 documents" in done.stdout
    assert azurite.split("AccountKey=")[1].split(";")[0] not in done.stdout
    sets = list_sets(str(tmp_path / "sets"), "azure-test")
    assert [(s["complete"], s["stores"]) for s in sets] == [(True, ["blobs", "search"])]
    assert verify_set(sets[0]["path"])["ok"] is True

    drill = play(env, tmp_path, "azure_data_restore.yml", settings,
                 {"_azure_data_parts": ["blobs", "search"], "_azure_data_drill": True})
    assert drill.returncode == 0, drill.stdout + drill.stderr
    with open(str(tmp_path / "reports" / "azure-test.json")) as handle:
        report = json.load(handle)
    assert report["ok"] is True
    assert [(r["part"], r["target"], r["count"], r["verified"]) for r in report["rows"]] == [
        ("blobs", "checkpoints-drill", 2, True), ("search", "agent-knowledge-drill", 80, True)]
    assert standin.documents["agent-knowledge-drill"] == standin.documents["agent-knowledge"]
    assert checkpoints.get_blob_client("job-0001/state.json").download_blob().readall() == BLOBS["job-0001/state.json"]

    # Production loses data after the backup; the restore puts it back in place.
    checkpoints.upload_blob("job-0001/state.json", b'{"step": 0}', overwrite=True)
    checkpoints.upload_blob("job-0003/state.json", b'{"stray": true}')
    with standin.lock:
        del standin.documents["agent-knowledge"]["doc-0004"]
    restore = play(env, tmp_path, "azure_data_restore.yml", dict(settings, restore_delete_extra=True),
                   {"_azure_data_parts": ["blobs", "search"], "_azure_data_drill": False})
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert sorted(b.name for b in checkpoints.list_blobs()) == sorted(BLOBS)
    assert checkpoints.get_blob_client("job-0001/state.json").download_blob().readall() == BLOBS["job-0001/state.json"]
    assert "doc-0004" in standin.documents["agent-knowledge"]
    assert "blobs checkpoints: 1 of 2 written, 1 deleted, read back as exported" in " ".join(restore.stdout.split()), restore.stdout


def test_a_failing_export_leaves_an_incomplete_set(azurite, tmp_path, opskit_env):
    settings = {"name": "broken", "backup_dir": str(tmp_path / "sets"), "storage_connection_string": azurite,
                "checkpoints_container": "no-such-container"}
    done = play(opskit_env, tmp_path, "azure_data_backup.yml", settings)
    assert done.returncode != 0
    assert "has no manifest.json, so no restore will ever use it" in done.stdout
    sets = list_sets(str(tmp_path / "sets"), "azure-broken")
    assert [s["complete"] for s in sets] == [False]


@pytest.mark.parametrize("playbook, extra, task", [
    ("playbooks/backup.yml", [], "Export the checkpoints blobs and the AI Search indexes into an Azure backup set"),
    ("playbooks/restore.yml", ["-e", "restore_hosts=agent_framework"],
     "Restore the checkpoints blobs and the AI Search indexes from the Azure set"),
    ("playbooks/restore_drill.yml", [], "Import the newest Azure set into scratch copies and compare them with it"),
])
def test_the_playbooks_run_the_azure_tasks_on_the_agent_framework_group(playbook, extra, task, opskit_env):
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i",
                          os.path.join(ROOT, "inventories", "local"), os.path.join(ROOT, playbook), "--list-tasks"]
                         + extra, cwd=ROOT, env=opskit_env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    section = out.stdout.split("play #")[-1]
    assert "agent_framework" in section and task in section
    assert glob.glob(os.path.join(ROOT, "playbooks", "tasks", "azure_data_*.yml"))
