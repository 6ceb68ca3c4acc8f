"""Runbook 001 on the host: the worker takes the jobs its API enqueues."""
import json
import time

from _hosts import hosts

testinfra_hosts = hosts("mol-agent-framework")


def test_worker_processes_jobs_enqueued_through_the_api(host):
    out = host.run(
        "curl -fsS -X POST -H 'Content-Type: application/json' "
        "-d '{\"kind\": \"report\", \"payload\": {\"work_ms\": 10}}' http://127.0.0.1:8000/api/v1/jobs"
    )
    assert out.rc == 0, out.stderr
    job_id = json.loads(out.stdout)["job"]["id"]
    job = {}
    deadline = time.time() + 30
    while time.time() < deadline:
        job = json.loads(host.run("curl -fsS http://127.0.0.1:8000/api/v1/jobs/%s", str(job_id)).stdout)["job"]
        if job["status"] == "done":
            break
        time.sleep(1)
    assert job["status"] == "done", job
