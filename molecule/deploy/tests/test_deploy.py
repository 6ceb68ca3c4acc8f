"""deploy.yml: every service of the five groups runs as its user, answers /health, keeps its data right."""
import json

import pytest

SERVICES = {
    "mol-el-bot": [("el-bot", 8000)],
    "mol-multi-agent": [("multi-agent", 8000)],
    "mol-runtime": [("semibot-runtime", 8000)],
    "mol-dynamic-tools": [("dynamic-tools", 8000)],
    "mol-agent-framework": [("agent-framework-api", 8000), ("agent-framework-worker", 8001)],
}
# Runbook 001's API and worker share a store, so they share a user.
USERS = {"agent-framework-api": "agent-framework", "agent-framework-worker": "agent-framework"}


def _services(host):
    return SERVICES[host.backend.get_hostname()]


def _health(host, port):
    out = host.run("curl -sS -o /dev/stdout -w '\\n%%{http_code}' http://127.0.0.1:%s/health", str(port))
    body, _sep, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def test_services_enabled_running_as_their_user(host):
    for name, _unused_port in _services(host):
        unit = host.service(name)
        assert unit.is_enabled, name
        assert unit.is_running, name
        pid = host.run("systemctl show -p MainPID --value %s", name).stdout.strip()
        assert host.run("ps -o user= -p %s", pid).stdout.strip() == USERS.get(name, name)


def test_ports_listening_and_health_200(host):
    for name, port in _services(host):
        assert host.socket("tcp://0.0.0.0:%d" % port).is_listening, name
        code, body = _health(host, port)
        assert code == 200, "%s: %s" % (name, body)
        assert json.loads(body)["status"] == "ok"


def test_env_files_private(host):
    for name, _unused_port in _services(host):
        env = host.file("/etc/%s/%s.env" % (name, name))
        assert env.mode == 0o600
        assert env.user == USERS.get(name, name)


def test_sqlite_store_in_wal_mode(host):
    if host.backend.get_hostname() not in ("mol-el-bot", "mol-runtime", "mol-dynamic-tools"):
        pytest.skip("this host's services use PostgreSQL, not SQLite")
    name = _services(host)[0][0]
    mode = host.run("sqlite3 /var/lib/%s/data/el_sessions.db 'PRAGMA journal_mode'", name).stdout.strip()
    assert mode == "wal"
    tables = host.run("sqlite3 /var/lib/%s/data/el_sessions.db .tables", name).stdout.split()
    assert {"sessions", "messages", "slots"} <= set(tables)


def test_pgvector_extension_present(host):
    if host.backend.get_hostname() != "mol-multi-agent":
        pytest.skip("PostgreSQL runs on the multi_agent host only")
    out = host.run("sudo -u postgres psql -XAtq -d discord_agent -c \"SELECT extname FROM pg_extension\"")
    assert "vector" in out.stdout.split()


def test_runtime_has_two_uvicorn_workers(host):
    if host.backend.get_hostname() != "mol-runtime":
        pytest.skip("only the runtime group runs several workers")
    procs = host.run("pgrep -u semibot-runtime -f -c 'agent-app|multiprocessing'").stdout.strip()
    assert int(procs) >= 3  # the supervisor and two workers


def test_dynamic_tools_layout(host):
    if host.backend.get_hostname() != "mol-dynamic-tools":
        pytest.skip("runbook 004 layout only on the dynamic_tools host")
    assert host.file("/var/lib/dynamic-tools/.pi/tools").is_directory
    assert host.file("/var/lib/dynamic-tools/.pi/logs").is_directory


def test_worker_processes_jobs_enqueued_through_the_api(host):
    if host.backend.get_hostname() != "mol-agent-framework":
        pytest.skip("runbook 001 API and worker run on the agent_framework host only")
    out = host.run(
        "curl -fsS -X POST -H 'Content-Type: application/json' -d '{\"kind\": \"report\", \"payload\": {\"work_ms\": 10}}' "
        "http://127.0.0.1:8000/api/v1/jobs"
    )
    assert out.rc == 0, out.stderr
    job_id = json.loads(out.stdout)["job"]["id"]
    for _attempt in range(30):
        job = json.loads(host.run("curl -fsS http://127.0.0.1:8000/api/v1/jobs/%s", str(job_id)).stdout)["job"]
        if job["status"] == "done":
            break
        host.run("sleep 1")
    assert job["status"] == "done", job
