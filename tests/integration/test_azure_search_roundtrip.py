"""AI Search export/import round trip through the real azure-search-documents SDK.

The service is the STAND-IN of azure_search_standin.py (Azure AI Search cannot
run here): what is real is the SDK, opskit.ops.azure_search_index run by
ansible-playbook, the files, the manifest and its checks.
"""
import json
import os

import pytest

from azure_search_standin import SearchStandIn
from test_backup_azurite import run_playbook

from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import complete_set, start_set, verify_set

SCHEMA = {"name": "agent-knowledge", "fields": [
    {"name": "id", "type": "Edm.String", "key": True, "retrievable": True, "filterable": True},
    {"name": "title", "type": "Edm.String", "searchable": True, "retrievable": True},
    {"name": "chunk", "type": "Edm.Int32", "retrievable": True, "filterable": True},
    {"name": "tags", "type": "Collection(Edm.String)", "retrievable": True},
    {"name": "source", "type": "Edm.ComplexType", "fields": [
        {"name": "url", "type": "Edm.String", "retrievable": True},
        {"name": "fetched", "type": "Edm.DateTimeOffset", "retrievable": True}]},
]}


def documents(count):
    return [{"id": "doc-%04d" % i, "title": "Runbook page %d 日本語" % i, "chunk": i % 7, "tags": ["a", str(i)],
             "source": {"url": "https://example.invalid/%d" % i, "fetched": "2025-01-15T10:30:00Z"}}
            for i in range(count)]


@pytest.fixture
def search(tmp_path):
    standin = SearchStandIn(workdir=str(tmp_path))
    url = standin.start()
    yield standin, url, {"REQUESTS_CA_BUNDLE": standin.cert}
    standin.stop()


def test_export_into_a_set_and_import_into_a_scratch_index(search, tmp_path):
    standin, url, env = search
    standin.add_index(SCHEMA, documents(173))  # more than three pages of 50
    set_path = start_set(str(tmp_path / "sets"), "azure-agent-framework", "20250115T103000Z")
    common = {"endpoint": url, "api_key": standin.api_key}
    jsonl = os.path.join(set_path, "search", "agent-knowledge.jsonl")
    rc, results = run_playbook(tmp_path, [
        {"name": "export", "opskit.ops.azure_search_index": dict(common, action="export", index="agent-knowledge",
                                                                 dest=os.path.join(set_path, "search"),
                                                                 set_path=set_path)},
        {"name": "export again", "opskit.ops.azure_search_index": dict(common, action="export", index="agent-knowledge",
                                                                       dest=os.path.join(set_path, "search"))},
        {"name": "import check", "check_mode": True,
         "opskit.ops.azure_search_index": dict(common, action="import", index="agent-knowledge-drill", src=jsonl)},
        {"name": "import", "opskit.ops.azure_search_index": dict(common, action="import",
                                                                 index="agent-knowledge-drill", src=jsonl)},
        {"name": "import again", "opskit.ops.azure_search_index": dict(common, action="import",
                                                                       index="agent-knowledge-drill", src=jsonl)},
    ], extra_env=env)
    assert rc == 0, results
    export, again, check, imported, unchanged = results
    assert (export["changed"], export["count"], export["key"]) == (True, 173, "id")
    assert export["manifest"]["count"] == 173
    assert again["changed"] is False
    assert (check["changed"], check["created"], check["uploaded"]) == (True, True, 173)
    assert (imported["changed"], imported["created"], imported["uploaded"], imported["verified"]) == (True, True, 173, True)
    assert (unchanged["changed"], unchanged["uploaded"]) == (False, 0)
    # The scratch index has the exported definition under its own name and the same documents.
    assert standin.indexes["agent-knowledge-drill"]["fields"][0]["name"] == "id"
    assert standin.documents["agent-knowledge-drill"] == standin.documents["agent-knowledge"]
    # The export is part of the backup set and verified with it.
    manifest = complete_set(set_path)
    assert sorted(i["file"] for i in manifest["items"]) == [
        "search/agent-knowledge.jsonl", "search/agent-knowledge.manifest.json", "search/agent-knowledge.schema.json"]
    assert verify_set(set_path)["ok"] is True
    with open(jsonl, encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    assert first["id"] == "doc-0000" and "@search.score" not in first and first["title"].endswith("日本語")


def test_import_restores_changed_documents_and_deletes_extras_only_when_asked(search, tmp_path):
    standin, url, env = search
    standin.add_index(SCHEMA, documents(60))
    common = {"endpoint": url, "api_key": standin.api_key, "index": "agent-knowledge"}
    dest = str(tmp_path / "export")
    rc, results = run_playbook(tmp_path, [{"opskit.ops.azure_search_index": dict(common, action="export", dest=dest)}],
                               extra_env=env)
    assert rc == 0, results
    with standin.lock:
        docs = standin.documents["agent-knowledge"]
        docs["doc-0003"]["title"] = "edited after the backup"
        del docs["doc-0007"]
        docs["doc-9999"] = {"id": "doc-9999", "title": "new", "chunk": 1, "tags": [], "source": None}
    src = os.path.join(dest, "agent-knowledge.jsonl")
    rc, results = run_playbook(tmp_path, [
        {"name": "restore", "opskit.ops.azure_search_index": dict(common, action="import", src=src)},
        {"name": "restore exact", "opskit.ops.azure_search_index": dict(common, action="import", src=src,
                                                                        delete_extra=True)},
    ], extra_env=env)
    assert rc == 0, results
    restore, exact = results
    assert (restore["uploaded"], restore["deleted"], restore["extra_count"]) == (2, 0, 1)
    assert (exact["uploaded"], exact["deleted"]) == (0, 1)
    assert sorted(standin.documents["agent-knowledge"]) == ["doc-%04d" % i for i in range(60)]
    assert standin.documents["agent-knowledge"]["doc-0003"]["title"] == "Runbook page 3 日本語"


def test_wrong_key_tampered_export_and_hidden_fields_fail_with_their_cause(search, tmp_path):
    standin, url, env = search
    hidden = json.loads(json.dumps(SCHEMA))
    hidden["name"] = "with-vectors"
    hidden["fields"].append({"name": "embedding", "type": "Collection(Edm.Single)", "retrievable": False})
    standin.add_index(hidden, documents(3))
    standin.add_index(SCHEMA, documents(5))
    dest = str(tmp_path / "export")
    common = {"endpoint": url, "api_key": standin.api_key}
    rc, results = run_playbook(tmp_path, [
        {"name": "wrong key", "ignore_errors": True, "opskit.ops.azure_search_index": dict(
            common, api_key="not-the-key", action="export", index="agent-knowledge", dest=dest)},
        {"name": "hidden", "ignore_errors": True, "opskit.ops.azure_search_index": dict(
            common, action="export", index="with-vectors", dest=dest)},
        {"name": "missing index", "ignore_errors": True, "opskit.ops.azure_search_index": dict(
            common, action="export", index="nope", dest=dest)},
        {"name": "export", "opskit.ops.azure_search_index": dict(common, action="export", index="agent-knowledge",
                                                                 dest=dest)},
    ], extra_env=env)
    wrong, hidden_result, missing, export = results
    assert (wrong["failed"], wrong["error"]) == (True, "auth")
    assert "not-the-key" not in json.dumps(wrong)
    assert hidden_result["failed"] is True and "embedding" in hidden_result["msg"]
    assert (missing["failed"], missing["error"]) == (True, "not_found")
    assert export["count"] == 5
    src = os.path.join(dest, "agent-knowledge.jsonl")
    with open(src, "a", encoding="utf-8") as handle:
        handle.write('{"id": "doc-evil"}\n')
    before = len(standin.requests)
    rc, results = run_playbook(tmp_path, [{"opskit.ops.azure_search_index": dict(
        common, action="import", index="agent-knowledge", src=src)}], extra_env=env)
    assert rc != 0 and "checksum mismatch" in results[0]["msg"]
    assert standin.requests[before:] == []  # refused before any call to the service
