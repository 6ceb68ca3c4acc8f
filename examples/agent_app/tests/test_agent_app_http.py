"""Health, metrics, turns, fault switch, admin endpoints and runtime fallback."""

import json
import shutil

from prometheus_client.parser import text_string_to_metric_families

from conftest import AUTH, samples, turn, value

DOCUMENTED = {
    # family name -> (type, a sample name that must be exposed)
    "turn_latency_seconds": ("histogram", "turn_latency_seconds_bucket"),
    "slot_coverage": ("gauge", "slot_coverage"),
    "slot_duplicate_rate": ("gauge", "slot_duplicate_rate"),
    "slot_duplicates": ("counter", "slot_duplicates_total"),
    "qgen": ("counter", "qgen_total"),
    "qcheck_failed": ("counter", "qcheck_failed_total"),
    "chat_execution": ("counter", "chat_execution_total"),
    "chat_execution_success": ("counter", "chat_execution_success_total"),
    "chat_execution_error": ("counter", "chat_execution_error_total"),
    "chat_execution_latency_ms": ("histogram", "chat_execution_latency_ms_bucket"),
    "chat_runtime_fallback_enabled": ("gauge", "chat_runtime_fallback_enabled"),
    "queue_messages": ("gauge", "queue_messages"),
    "queue_dead_letter_messages": ("gauge", "queue_dead_letter_messages"),
    "agent_token_budget_used_ratio": ("gauge", "agent_token_budget_used_ratio"),
}
STAGES = ["stage01_intake", "stage02_context", "stage03_plan", "stage04_slot_fill",
          "stage05_retrieve", "stage06_qgen", "stage07_qcheck"]


def test_health_ok_reports_profile_and_components(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["environment"] == "test"
    assert body["role"] == "api"
    assert body["components"] == {"store": "ok"}
    assert body["profile"] == {"name": "test", "spontaneous_interval_s": 10.0,
                               "spontaneous_probability": 1.0, "fail_fast": True, "log_level": "DEBUG"}
    assert isinstance(body["version"], str)


def test_health_503_when_sqlite_directory_removed(client, tmp_path):
    assert client.get("/health").status_code == 200
    shutil.rmtree(tmp_path / "data")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["components"]["store"].startswith("error: sqlite")
    assert turn(client).status_code == 503
    log = (tmp_path / "logs" / "agent.log").read_text()
    assert "健康检查失败" in log


def test_health_503_with_store_down_fault(client):
    assert client.post("/api/v1/admin/fault", json={"store_down": True}, headers=AUTH).status_code == 200
    response = client.get("/health")
    assert response.status_code == 503
    assert "store_down" in response.json()["reason"]
    response = turn(client)
    assert response.status_code == 503
    assert response.json()["error"].startswith("StoreUnavailable")
    client.post("/api/v1/admin/fault", json={}, headers=AUTH)
    assert client.get("/health").status_code == 200


def test_forced_health_failure(make_client):
    client = make_client(AGENT_FAIL_HEALTH="1")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["reason"] == "forced by AGENT_FAIL_HEALTH"


def test_metrics_expose_every_documented_name(client):
    turn(client)
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, (kind, sample_name) in DOCUMENTED.items():
        assert name in families, name
        assert families[name].type == kind, name
        assert any(s.name == sample_name for s in families[name].samples), sample_name
    data = samples(text)
    for stage in STAGES:
        assert ("slot_coverage", frozenset({("pipeline_stage", stage)})) in data
        assert ("slot_duplicate_rate", frozenset({("pipeline_stage", stage)})) in data
        assert ("slot_duplicates_total", frozenset({("pipeline_stage", stage)})) in data
    for mode in ("direct_llm", "runtime_orchestrator"):
        for name in ("chat_execution_total", "chat_execution_success_total", "chat_execution_error_total"):
            assert (name, frozenset({("mode", mode)})) in data
    assert value(data, "queue_messages", queue="agent-jobs") == 0
    assert "_created" not in text


def test_turns_move_counters_and_store_data(client):
    first = turn(client, "thread-a", "We had an outage in the payment service yesterday")
    assert first.status_code == 200
    body = first.json()
    assert body["turn"] == 1 and body["created_session"] is True
    assert body["qcheck"] == {"passed": True, "reason": None}
    assert [s["value"] for s in body["slots_filled"]] == ["outage", "payment", "service"]
    # same keyword first -> same question -> QCheck duplicate
    second = turn(client, "thread-a", "outage again and the database was slow").json()
    assert second["qcheck"] == {"passed": False, "reason": "duplicate_question"}
    # fewer than three words -> specificity
    third = turn(client, "thread-a", "ok thanks").json()
    assert third["qcheck"]["reason"] == "specificity_below_threshold"

    data = samples(client.get("/metrics").text)
    assert value(data, "chat_execution_total", mode="runtime_orchestrator") == 3
    assert value(data, "chat_execution_success_total", mode="runtime_orchestrator") == 3
    assert value(data, "qgen_total") == 3
    assert value(data, "qcheck_failed_total") == 2
    assert value(data, "slot_duplicates_total", pipeline_stage="stage07_qcheck") == 1
    assert value(data, "slot_duplicates_total", pipeline_stage="stage01_intake") == 1  # "outage" again
    assert value(data, "slot_duplicate_rate", pipeline_stage="stage07_qcheck") == 1 / 3
    assert value(data, "slot_coverage", pipeline_stage="stage01_intake") == 1.0
    assert value(data, "turn_latency_seconds_count") == 3
    assert value(data, "chat_execution_latency_ms_count", mode="runtime_orchestrator") == 3

    session = client.get("/api/v1/sessions/thread-a").json()
    assert session["turn_count"] == 3
    assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 3
    assert session["messages"][0]["content"] == "We had an outage in the payment service yesterday"
    assert session["messages"][0]["id"] == body["user_message_id"]
    assert session["messages"][1]["id"] == body["reply_message_id"]
    assert session["slots"]["stage01_intake"] == {"topic": "outage", "goal": "payment"}
    assert session["last_question"] == "Could you tell me more about outage?"
    assert client.get("/api/v1/sessions/missing").status_code == 404
    assert client.get("/api/v1/store/stats").json()["counts"]["messages"] == 6


def test_turn_validation(client):
    assert client.post("/api/v1/turns", json={"text": "hi there you"}).status_code == 400
    assert client.post("/api/v1/turns", json={"thread_id": "x"}).status_code == 400
    assert client.post("/api/v1/turns", json={"thread_id": "x", "text": "a b c", "mode": "x"}).status_code == 400
    assert client.post("/api/v1/turns", content=b"not json").status_code == 400
    ok = client.post("/api/v1/turns", json={"session_id": 42, "text": "direct mode question here",
                                            "mode": "direct_llm", "timestamp": "2020-01-01T00:00:00Z"})
    assert ok.status_code == 200 and ok.json()["mode"] == "direct_llm"
    session = client.get("/api/v1/sessions/42").json()
    assert session["messages"][0]["created_at"] == "2020-01-01T00:00:00.000000Z"


def test_fault_switch_gives_exactly_20_percent_errors(client, tmp_path):
    fault = client.post("/api/v1/admin/fault", json={"error_rate": 0.2}, headers=AUTH)
    assert fault.status_code == 200
    assert client.get("/api/v1/admin/fault", headers=AUTH).json()["error_rate"] == 0.2
    codes = [turn(client, f"t{i % 4}", f"message number {i} about deployments").status_code
             for i in range(1, 51)]
    assert codes.count(500) == 10
    assert [i for i, c in enumerate(codes, 1) if c == 500] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    data = samples(client.get("/metrics").text)
    assert value(data, "chat_execution_total", mode="runtime_orchestrator") == 50
    assert value(data, "chat_execution_error_total", mode="runtime_orchestrator") == 10
    assert value(data, "chat_execution_success_total", mode="runtime_orchestrator") == 40
    assert value(data, "chat_runtime_fallback_enabled") == 0
    runtime = client.get("/api/v1/runtime/metrics", headers=AUTH).json()["data"]["runtime"]
    assert (runtime["total"], runtime["success"], runtime["error"]) == (50, 40, 10)
    assert runtime["error_rate"] == 0.2
    assert runtime["by_mode"]["runtime_orchestrator"]["success_rate"] == 0.8
    assert runtime["latency_p95_ms"] is not None
    log = (tmp_path / "logs" / "agent.log").read_text().splitlines()
    failures = [line for line in log if "Runtime 执行失败" in line]
    assert len(failures) == 10
    assert all(" ERROR " in line and "RuntimeAdapter" in line and "错误: InjectedFault" in line
               for line in failures)
    assert sum("processed successfully" in line for line in log) == 40


def test_admin_auth(make_client):
    client = make_client()
    for path in ("/api/v1/runtime/metrics", "/api/v1/runtime/fallback/status", "/api/v1/admin/fault"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": "Basic abc"}).status_code == 401
        assert client.get(path, headers=AUTH).status_code == 200
    assert client.post("/api/v1/runtime/fallback/reset").status_code == 401
    assert client.get("/api/v1/runtime/metrics").headers["www-authenticate"] == "Bearer"

    unset = make_client(ADMIN_TOKEN=None)
    response = unset.get("/api/v1/runtime/metrics", headers=AUTH)
    assert response.status_code == 503
    assert "ADMIN_TOKEN" in response.json()["error"]


def test_auto_fallback_and_reset(client, tmp_path):
    client.post("/api/v1/admin/fault", json={"error_rate": 1.0}, headers=AUTH)
    assert [turn(client).status_code for _attempt in range(3)] == [500, 500, 500]
    status = client.get("/api/v1/runtime/fallback/status", headers=AUTH).json()["data"]
    assert status["fallbackEnabled"] is True
    assert status["fallbackReason"].startswith("3 consecutive runtime_orchestrator errors")
    assert status["currentMode"] == "direct_llm"
    assert value(client.get("/metrics").text, "chat_runtime_fallback_enabled") == 1
    client.post("/api/v1/admin/fault", json={}, headers=AUTH)
    after = turn(client).json()
    assert after["mode"] == "direct_llm" and after["requested_mode"] == "runtime_orchestrator"
    assert client.get("/health").json()["fallback_enabled"] is True

    reset = client.post("/api/v1/runtime/fallback/reset", headers=AUTH).json()["data"]
    assert reset["fallbackEnabled"] is False
    assert reset["previous"]["fallbackEnabled"] is True
    assert value(client.get("/metrics").text, "chat_runtime_fallback_enabled") == 0
    assert turn(client).json()["mode"] == "runtime_orchestrator"
    log = (tmp_path / "logs" / "agent.log").read_text()
    assert "触发自动回退" in log and "禁用自动回退" in log


def test_fallback_on_error_rate_over_threshold(client):
    client.post("/api/v1/admin/fault", json={"error_rate": 0.6}, headers=AUTH)
    codes = [turn(client).status_code for _attempt in range(10)]
    assert codes.count(500) == 6
    status = client.get("/api/v1/runtime/fallback/status", headers=AUTH).json()["data"]
    assert status["fallbackEnabled"] is True
    assert "error rate 0.60 > threshold 0.50" in status["fallbackReason"]


def test_fault_validation_and_latency(client):
    assert client.post("/api/v1/admin/fault", json={"error_rate": 2}, headers=AUTH).status_code == 400
    assert client.post("/api/v1/admin/fault", json={"bogus": 1}, headers=AUTH).status_code == 400
    assert client.post("/api/v1/admin/fault", json={"extra_latency_ms": 120}, headers=AUTH).status_code == 200
    response = turn(client)
    assert response.json()["latency_ms"] >= 120


def test_trace_files(make_client, tmp_path):
    client = make_client(EL_TRACE="1")
    turn(client, "tr", "Kubernetes rollout failed during the migration")
    turn(client, "tr", "ok")
    files = list((tmp_path / "logs" / "wal").glob("*.log"))
    assert len(files) == 1
    events = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert {e["component"] for e in events} == {"Orchestrator", "SlotRegistry", "QCheck"}
    fails = [e for e in events if e["event"] == "qcheck.fail"]
    assert fails == [dict(fails[0], pipeline_stage="stage07_qcheck",
                          qcheck_fail_reason="specificity_below_threshold")]
