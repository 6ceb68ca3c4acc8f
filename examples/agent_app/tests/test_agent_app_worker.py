"""Worker role (runbook 001): queue, retries, dead-letter, queue gauges, token budget."""

import time

from conftest import AUTH, samples, value


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_worker_processes_retries_and_dead_letters(make_client, tmp_path):
    api = make_client(AGENT_TOKEN_BUDGET="1000")
    worker = make_client(AGENT_ROLE="worker", AGENT_WORKER_POLL_INTERVAL="0.02", AGENT_JOB_RETRY_DELAY="0",
                         AGENT_TOKEN_BUDGET="1000", AGENT_LOG_FILE=tmp_path / "logs" / "worker.log",
                         AGENT_STATE_DIR=tmp_path / "worker-state")
    health = worker.get("/health").json()
    assert health["role"] == "worker" and health["components"]["worker"] == "ok"
    assert worker.post("/api/v1/turns", json={}).status_code == 404  # API routes are not on the worker

    ok = api.post("/api/v1/jobs", json={"kind": "report", "payload": {"topic": "x"}, "tokens": 850})
    assert ok.status_code == 202
    flaky = api.post("/api/v1/jobs", json={"kind": "report", "payload": {"fail_times": 2}}).json()["job"]
    doomed = api.post("/api/v1/jobs", json={"kind": "report", "payload": {"fail": True}}).json()["job"]

    def job(job_id):
        return api.get(f"/api/v1/jobs/{job_id}").json()["job"]

    wait_for(lambda: job(doomed["id"])["status"] == "dead_letter")
    wait_for(lambda: job(flaky["id"])["status"] == "done")
    assert job(ok.json()["job"]["id"])["status"] == "done"
    dead = job(doomed["id"])
    assert dead["attempts"] == 3
    assert dead["last_error"] == "JobError: the job's payload asks to fail"
    assert job(flaky["id"])["attempts"] == 3

    for client in (api, worker):  # the same facts from both processes' /metrics
        data = samples(client.get("/metrics").text)
        assert value(data, "queue_messages", queue="agent-jobs") == 0
        assert value(data, "queue_dead_letter_messages", queue="agent-jobs") == 1
        assert value(data, "agent_token_budget_used_ratio") == 0.85
    data = samples(worker.get("/metrics").text)
    assert value(data, "agent_jobs_processed_total", result="dead_letter") == 1
    assert value(data, "agent_jobs_processed_total", result="retry") == 4
    assert value(data, "agent_jobs_processed_total", result="done") == 2

    log = (tmp_path / "logs" / "worker.log").read_text()
    assert f"job_id={doomed['id']} kind=report moved to dead-letter queue after 3 attempts" in log

    # operator re-submits the dead-lettered job (runbook 001: ジョブ再投入)
    assert api.post(f"/api/v1/admin/jobs/{doomed['id']}/requeue").status_code == 401
    requeued = api.post(f"/api/v1/admin/jobs/{doomed['id']}/requeue", headers=AUTH)
    assert requeued.status_code == 200 and requeued.json()["job"]["status"] == "queued"
    wait_for(lambda: job(doomed["id"])["status"] == "dead_letter")


def test_queue_gauge_counts_waiting_jobs(client):
    for _attempt in range(3):
        client.post("/api/v1/jobs", json={"kind": "task"})
    cancelled = client.post("/api/v1/jobs", json={"kind": "task", "queue": "other"}).json()["job"]
    assert client.post(f"/api/v1/admin/jobs/{cancelled['id']}/cancel", headers=AUTH).status_code == 200
    data = samples(client.get("/metrics").text)
    assert value(data, "queue_messages", queue="agent-jobs") == 3
    assert value(data, "queue_messages", queue="other") == 0
    assert client.post("/api/v1/jobs", json={"tokens": -1}).status_code == 400
