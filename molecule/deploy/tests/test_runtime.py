"""Runbook 003: uvicorn with two workers and the admin token."""
import json

from _hosts import hosts

testinfra_hosts = hosts("mol-runtime")


def test_runtime_has_two_uvicorn_workers(host):
    pid = host.run("systemctl show -p MainPID --value semibot-runtime").stdout.strip()
    children = host.run("pgrep -P %s", pid).stdout.split()
    # uvicorn's workers are spawned processes; the resource tracker is not a worker.
    workers = [c for c in children if "spawn_main" in host.run("cat /proc/%s/cmdline", c).stdout]
    assert len(workers) == 2, children


def test_admin_endpoint_needs_the_token(host):
    code = host.run("curl -s -o /dev/null -w %s http://127.0.0.1:8000/api/v1/runtime/fallback/status", "%{http_code}")
    assert code.stdout.strip() == "401"
    token = host.run("sed -n 's/^ADMIN_TOKEN=\"\\(.*\\)\"$/\\1/p' /etc/semibot-runtime/semibot-runtime.env").stdout.strip()
    assert token
    out = host.run("curl -fsS -H 'Authorization: Bearer %s' http://127.0.0.1:8000/api/v1/runtime/fallback/status", token)
    assert out.rc == 0
    assert json.loads(out.stdout)["data"]["fallbackEnabled"] is False
