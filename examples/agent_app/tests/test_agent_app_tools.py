"""Dynamic tools (runbook 004): layout, definitions, audit log lines, traffic."""

import json
import time

import pytest

from conftest import AUTH

AUDIT_KEYS = {"id", "timestamp", "action", "toolId", "toolName", "actor", "details", "success",
              "errorMessage"}
CODE = "async function execute(params) { return JSON.stringify(params.input, null, 2) }"


@pytest.fixture
def tools_client(make_client, tmp_path):
    return make_client(AGENT_DYNAMIC_TOOLS_DIR=tmp_path / "agent")


def audit_lines(tmp_path):
    path = tmp_path / "agent" / ".pi" / "logs" / "dynamic-tools-audit.jsonl"
    raw = path.read_text(encoding="utf-8")
    assert raw == "" or raw.endswith("\n")
    return raw.splitlines()


def create(client, name="json_formatter", code=CODE, **extra):
    body = {"name": name, "description": "formats JSON", "code": code,
            "parameters": {"type": "object", "properties": {"input": {}}, "required": ["input"]}}
    body.update(extra)
    return client.post("/api/v1/tools", json=body)


def test_layout_created_at_start(tools_client, tmp_path):
    assert (tmp_path / "agent" / ".pi" / "tools").is_dir()
    assert (tmp_path / "agent" / ".pi" / "logs" / "dynamic-tools-audit.jsonl").is_file()
    assert tools_client.get("/health").json()["components"]["dynamic_tools"] == "ok"


def test_disabled_without_directory(client):
    assert client.get("/api/v1/tools").status_code == 404


def test_create_run_delete_with_audit(tools_client, tmp_path):
    created = create(tools_client)
    assert created.status_code == 201
    tool = created.json()["tool"]
    assert tool["id"].startswith("dt_") and tool["safetyScore"] == 1.0
    path = tmp_path / "agent" / ".pi" / "tools" / f"{tool['id']}.json"
    definition = json.loads(path.read_text())
    assert definition["name"] == "json_formatter"
    assert definition["code"] == CODE

    ok = tools_client.post("/api/v1/tools/json_formatter/run", json={"parameters": {"input": {"a": 1}}})
    assert ok.status_code == 200 and ok.json()["success"] is True
    missing = tools_client.post("/api/v1/tools/json_formatter/run", json={"parameters": {}})
    assert missing.status_code == 400
    assert tools_client.post("/api/v1/tools/nope/run", json={}).status_code == 404
    assert json.loads(path.read_text())["usageCount"] == 2
    assert tools_client.delete("/api/v1/tools/json_formatter").status_code == 200
    assert not path.exists()
    assert tools_client.delete("/api/v1/tools/json_formatter").status_code == 404

    lines = audit_lines(tmp_path)
    entries = [json.loads(line) for line in lines]
    assert all(set(e) == AUDIT_KEYS for e in entries)
    assert [e["action"] for e in entries] == [
        "verification.pass", "tool.create", "tool.run", "tool.run", "tool.run", "tool.delete", "tool.delete"]
    assert [e["success"] for e in entries] == [True, True, True, False, False, True, False]
    assert entries[1]["details"]["parameters"]["required"] == ["input"]
    assert entries[2]["details"]["parameters"] == {"input": {"a": 1}}
    assert isinstance(entries[2]["details"]["executionTimeMs"], int)
    assert entries[3]["errorMessage"] == "missing required parameter(s): input"
    assert entries[4]["errorMessage"] == "tool not found: nope"
    # the runbook's greps match the compact JSON
    assert sum('"action":"tool.run"' in line for line in lines) == 3
    assert sum('"success":false' in line for line in lines) == 3
    assert sum('"toolName":"json_formatter"' in line for line in lines) == 6
    assert all(e["timestamp"].endswith("Z") and len(e["timestamp"]) == 24 for e in entries)


def test_verification_fail_duplicate_and_low_score(tools_client, tmp_path):
    bad = create(tools_client, "dangerous", "async function execute(p) { require('child_process') }")
    assert bad.status_code == 422
    assert create(tools_client).status_code == 201
    assert create(tools_client).status_code == 409
    assert create(tools_client, "Bad Name").status_code == 400
    risky = create(tools_client, "risky_tool", "async function execute(p) { const fs = require('fs'); "
                   "fs.readFileSync(process.env.HOME); await fetch(p.url); while (true) {} }")
    assert risky.status_code == 201
    assert risky.json()["tool"]["safetyScore"] < 0.3
    entries = [json.loads(line) for line in audit_lines(tmp_path)]
    fail = [e for e in entries if e["action"] == "verification.fail"]
    assert len(fail) == 1
    assert fail[0]["details"]["reason"].startswith("security risk: child_process")
    warned = [e for e in entries if e["action"] == "verification.pass" and "warning" in e["details"]]
    assert [e["toolName"] for e in warned] == ["risky_tool"]
    listed = tools_client.get("/api/v1/tools", params={"min_safety_score": 0.5}).json()
    assert [t["name"] for t in listed["tools"]] == ["json_formatter"]


def test_fault_switch_affects_runs(tools_client, tmp_path):
    create(tools_client)
    tools_client.post("/api/v1/admin/fault", json={"error_rate": 0.5}, headers=AUTH)
    codes = [tools_client.post("/api/v1/tools/json_formatter/run",
                               json={"parameters": {"input": i}}).status_code for i in range(4)]
    assert codes == [200, 500, 200, 500]
    runs = [json.loads(line) for line in audit_lines(tmp_path) if '"action":"tool.run"' in line]
    assert [r["success"] for r in runs] == [True, False, True, False]
    assert runs[1]["errorMessage"].startswith("injected fault")


def test_corrupted_definition_reported(tools_client, tmp_path):
    create(tools_client)
    (tmp_path / "agent" / ".pi" / "tools" / "dt_broken000000.json").write_text("{not json")
    listed = tools_client.get("/api/v1/tools").json()
    assert listed["corrupted"] == ["dt_broken000000.json"]
    assert [t["name"] for t in listed["tools"]] == ["json_formatter"]
    health = tools_client.get("/health")
    assert health.status_code == 200
    assert health.json()["components"]["dynamic_tools"].startswith("degraded: 1 corrupted")


def test_background_traffic_appends_whole_lines(make_client, tmp_path):
    client = make_client(AGENT_DYNAMIC_TOOLS_DIR=tmp_path / "agent", AGENT_TOOLS_TRAFFIC_INTERVAL="0.05")
    create(client)
    path = tmp_path / "agent" / ".pi" / "logs" / "dynamic-tools-audit.jsonl"
    seen = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and seen < 10:
        # a reader (an archiver) at any moment sees only complete lines
        raw = path.read_bytes()
        assert raw.endswith(b"\n")
        entries = [json.loads(line) for line in raw.decode().splitlines()]
        seen = sum(e["actor"] == "traffic" and e["action"] == "tool.run" for e in entries)
        time.sleep(0.02)
    assert seen >= 10
