"""The real CLI: uvicorn with several workers, multiprocess metrics, SIGTERM."""

import httpx

from conftest import ADMIN_TOKEN, Server, samples, value

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_two_workers_give_consistent_metrics_and_stop_gracefully(tmp_path):
    server = Server(tmp_path, "serve", AGENT_WORKERS=2, ENVIRONMENT="production")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            http.post("/api/v1/admin/fault", json={"error_rate": 0.2}, headers=AUTH).raise_for_status()
            codes = [http.post("/api/v1/turns", json={"thread_id": f"w{i % 5}",
                                                      "text": f"multi worker message {i} about queues"}).status_code
                     for i in range(20)]
            assert codes.count(500) == 4  # the counter is shared by both workers
            pids, totals, errors = set(), set(), set()
            close = {"Connection": "close"}  # a new connection each time: any worker may answer
            for attempt in range(200):
                pids.add(http.get("/health", headers=close).json()["pid"])
                data = samples(http.get("/metrics", headers=close).text)
                totals.add(value(data, "chat_execution_total", mode="runtime_orchestrator"))
                errors.add(value(data, "chat_execution_error_total", mode="runtime_orchestrator"))
                if len(pids) == 2 and attempt >= 10:
                    break
            assert totals == {20.0}
            assert errors == {4.0}
            runtime = http.get("/api/v1/runtime/metrics", headers=AUTH).json()["data"]["runtime"]
            assert (runtime["total"], runtime["error"]) == (20, 4)
        assert len(pids) == 2, pids  # both workers answered, with the same totals
        assert (tmp_path / "state" / "prometheus-api").is_dir()
    finally:
        rc = server.stop()
    output = server.output()
    assert rc == 0, output
    assert "graceful shutdown complete" in output
    assert (tmp_path / "logs" / "agent.log").read_text().count("has started!") == 2


def test_worker_cli_serves_health_and_metrics(tmp_path):
    server = Server(tmp_path, "worker", AGENT_WORKER_POLL_INTERVAL="0.05")
    try:
        server.wait_ready()
        health = httpx.get(server.url + "/health").json()
        assert health["role"] == "worker" and health["status"] == "ok"
        text = httpx.get(server.url + "/metrics").text
        assert value(samples(text), "queue_dead_letter_messages", queue="agent-jobs") == 0
    finally:
        rc = server.stop()
    assert rc == 0, server.output()


def test_test_profile_fails_fast_when_store_unreachable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the data directory should be
    server = Server(tmp_path, "serve", EL_SQLITE_PATH=blocker / "db" / "s.db")
    rc = server.proc.wait(20)
    assert rc == 1
    assert "store unavailable" in server.output()
