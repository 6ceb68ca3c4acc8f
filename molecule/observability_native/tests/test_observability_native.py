"""roles/observability, native mode: the stack runs, scrapes the reference
service, and its alerts fire and clear for real (through Alertmanager's API).

The scenario's variables: scrape and evaluation every 5 s, for: 15 s for
ElAgentMetricsDown, RuntimeServiceDown and HighErrorRate, rate window 1m.
Tests run in file order: each leaves the services running and faults off.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRAPE, EVAL, FOR = 5, 5, 15
TOKEN = os.environ.get("OPSKIT_ADMIN_TOKEN", "")
HERE = Path(__file__).resolve().parent
WATCH = "/usr/local/bin/alertwatch"


def _json(host, url):
    out = host.run("curl -fsS %s", url)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def _watch(host, *args):
    out = host.run(" ".join(["python3", WATCH] + ["'%s'" % a.replace("'", "'\\''") for a in args]))
    print(out.stdout, out.stderr)
    result = json.loads(out.stdout)
    return out.rc, result


@pytest.fixture(scope="module", autouse=True)
def watcher(host):
    res = host.ansible("copy", "src=%s dest=%s mode=0644" % (HERE / "alertwatch.py", WATCH), check=False)
    assert not res.get("failed"), res


def test_packages_units_and_files(host):
    for unit in ("prometheus", "prometheus-alertmanager"):
        assert host.service(unit).is_enabled
        assert host.service(unit).is_running
    assert host.socket("tcp://0.0.0.0:9090").is_listening or host.socket("tcp://:::9090").is_listening
    for name in ("000-el-agent", "001-agent-framework", "002-multi-agent", "003-runtime"):
        f = host.file("/etc/prometheus/rules/%s.yml" % name)
        assert f.exists and f.user == "root" and f.group == "prometheus" and f.mode == 0o644
        assert "Ansible managed" in f.content_string
    am = host.file("/etc/prometheus/alertmanager.yml")
    assert am.mode == 0o640 and am.group == "prometheus"
    assert "--cluster.listen-address=" in host.file("/etc/default/prometheus-alertmanager").content_string
    assert host.run("promtool check config /etc/prometheus/prometheus.yml").rc == 0


def test_prometheus_scrapes_the_reference_service(host):
    deadline = time.time() + 60
    while True:
        targets = _json(host, "http://127.0.0.1:9090/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if health.get("el-agent") == "up" and health.get("runtime-service") == "up" or time.time() > deadline:
            break
        time.sleep(2)
    assert health["el-agent"] == "up"
    assert health["runtime-service"] == "up"
    labels = {t["labels"]["job"]: t["labels"] for t in targets}
    assert labels["el-agent"]["instance"] == "obs-native:8000"
    assert labels["el-agent"]["service"] == "el-bot" and labels["el-agent"]["runbook"] == "000"
    assert labels["runtime-service"]["instance"] == "obs-native:8001"
    # the reference service's own metrics arrive
    q = _json(host, "http://127.0.0.1:9090/api/v1/query?query=qgen_total")["data"]["result"]
    assert {r["metric"]["job"] for r in q} == {"el-agent", "runtime-service"}


def test_rules_loaded_and_nothing_firing(host):
    groups = _json(host, "http://127.0.0.1:9090/api/v1/rules")["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"QCheckFailureRateHigh", "DuplicateQuestionRateHigh", "TurnLatencyHighP90", "TurnLatencyHighP99",
            "ElAgentMetricsDown", "RuntimeServiceDown", "HighErrorRate", "HighLatency", "AutoFallbackTriggered",
            "AgentFrameworkErrorRateHigh", "AgentQueueBacklogHigh", "TokenBudgetUsageHigh",
            "MultiAgentResponseTimeHigh", "job_mode:chat_execution_success:ratio",
            "job_mode:chat_execution_error:ratio"} <= names
    # nothing fires while the services run (alerts left by an earlier verify run clear within a minute)
    deadline = time.time() + 90
    while _json(host, "http://127.0.0.1:9093/api/v2/alerts?active=true") and time.time() < deadline:
        time.sleep(3)
    assert _json(host, "http://127.0.0.1:9093/api/v2/alerts?active=true") == []


def test_stopping_the_services_fires_down_alerts_in_alertmanager(host):
    rc, res = _watch(host, "--run", "systemctl stop el-bot semibot-runtime",
                     "--firing", "ElAgentMetricsDown,RuntimeServiceDown", "--timeout", "90")
    assert rc == 0, res
    bound = FOR + SCRAPE + EVAL + 3  # for: + one scrape + one evaluation phase + delivery
    for name in ("ElAgentMetricsDown", "RuntimeServiceDown"):
        t = res["reached"][name]
        print("%s firing in Alertmanager %.1f s after the stop (for: %d s, bound %d s)" % (name, t, FOR, bound))
        assert FOR - 1 <= t <= bound, (name, t)
    assert res["labels"]["ElAgentMetricsDown"]["job"] == "el-agent"
    assert res["labels"]["RuntimeServiceDown"]["severity"] == "critical"


def test_restarting_the_services_clears_them(host):
    rc, res = _watch(host, "--run", "systemctl start el-bot semibot-runtime",
                     "--resolved", "ElAgentMetricsDown,RuntimeServiceDown", "--timeout", "90")
    assert rc == 0, res
    for name, t in res["reached"].items():
        print("%s gone from Alertmanager %.1f s after the restart" % (name, t))
        assert t <= 45


def test_a_20_percent_error_rate_fires_high_error_rate(host):
    assert TOKEN, "OPSKIT_ADMIN_TOKEN must be set (molecule's shared config sets it)"
    auth = "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json'" % TOKEN
    fault = host.run("curl -fsS -X POST %s -d '{\"error_rate\": 0.2}' http://127.0.0.1:8001/api/v1/admin/fault" % auth)
    assert fault.rc == 0, fault.stderr
    turn = ("curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "
            "-d '{\\\"thread_id\\\": \\\"obs-'$i'\\\", \\\"text\\\": \\\"please check the runtime error rate now\\\", "
            "\\\"mode\\\": \\\"runtime_orchestrator\\\"}' http://127.0.0.1:8001/api/v1/turns")
    traffic = host.run(
        "systemd-run --unit obs-traffic --collect bash -c \"for i in \\$(seq 1 2000); do %s; sleep 0.05; done\""
        % turn.replace("$i", "\\$i"))
    assert traffic.rc == 0, traffic.stderr
    try:
        rc, res = _watch(host, "--firing", "HighErrorRate", "--label", "mode=runtime_orchestrator",
                         "--label", "job=runtime-service", "--timeout", "120")
        ratio = _json(host, "http://127.0.0.1:9090/api/v1/query?query=job_mode:chat_execution_error:ratio"
                            "%7Bjob%3D%22runtime-service%22,mode%3D%22runtime_orchestrator%22%7D")
        print("error ratio:", ratio["data"]["result"])
        assert rc == 0, res
        value = float(ratio["data"]["result"][0]["value"][1])
        assert 0.15 <= value <= 0.25, value
        alerts = _json(host, "http://127.0.0.1:9093/api/v2/alerts?active=true")
        assert "AutoFallbackTriggered" not in {a["labels"]["alertname"] for a in alerts}
    finally:
        host.run("systemctl stop obs-traffic")
        host.run("curl -fsS -X POST %s -d '{}' http://127.0.0.1:8001/api/v1/admin/fault" % auth)


def test_a_rules_typo_is_refused_and_prometheus_keeps_its_rules(host):
    rules = "/etc/prometheus/rules/003-runtime.yml"
    before = host.file(rules).sha256sum
    reloads_before = _json(host, "http://127.0.0.1:9090/api/v1/query?query=prometheus_config_last_reload_success_timestamp_seconds")
    playbook = Path(sys.executable).parent / "ansible-playbook"
    run = subprocess.run(
        [str(playbook), "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(HERE.parent / "typo.yml"),
         "-e", "observability_alert_fallback_for=1mm"],
        capture_output=True, text=True, env=os.environ, timeout=300, check=False)
    out = run.stdout + run.stderr
    print(out[-3000:])
    assert run.returncode != 0
    assert "failed to validate" in out
    assert "unknown unit \"mm\" in duration \"1mm\"" in out
    # the file in place is untouched, no temporary file was left beside it
    assert host.file(rules).sha256sum == before
    assert sorted(host.file("/etc/prometheus/rules").listdir()) == [
        "000-el-agent.yml", "001-agent-framework.yml", "002-multi-agent.yml", "003-runtime.yml"]
    # Prometheus was not reloaded and still evaluates the old rule
    reloads_after = _json(host, "http://127.0.0.1:9090/api/v1/query?query=prometheus_config_last_reload_success_timestamp_seconds")
    assert reloads_after["data"]["result"][0]["value"][1] == reloads_before["data"]["result"][0]["value"][1]
    groups = _json(host, "http://127.0.0.1:9090/api/v1/rules")["data"]["groups"]
    fallback = [r for g in groups for r in g["rules"] if r["name"] == "AutoFallbackTriggered"]
    assert len(fallback) == 1 and fallback[0]["duration"] == 60 and fallback[0]["health"] == "ok"
    last_reload = _json(host, "http://127.0.0.1:9090/api/v1/query?query=prometheus_config_last_reload_successful")
    assert last_reload["data"]["result"][0]["value"][1] == "1"
